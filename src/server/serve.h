#ifndef FY_SERVER_SERVE_H
#define FY_SERVER_SERVE_H

/* `ferry serve`: runs the server until SIGTERM or SIGINT. Returns the process exit code. */
int fy_serve_main(int argc, char **argv);

#endif
