/* The local-disk store: one folder, two files per upload: `<id>` holds the bytes and
 * `<id>.info` the upload info (JSON, replaced atomically). */
#ifndef FY_STORE_LOCAL_H
#define FY_STORE_LOCAL_H

#include "store/store.h"

/* Opens (and creates if needed) the data folder `dir`. */
fy_err fy_local_store_new(const char *dir, fy_store **out);

#endif
