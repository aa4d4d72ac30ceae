// @tus/server 2.x + @tus/file-store peer for bench/run.sh.
// usage: node peers/tus-node.mjs DATA_DIR PORT   (listens on 127.0.0.1 only, path /files/)
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const [dir, portArg] = process.argv.slice(2);
if (!dir || !portArg) {
  console.error('usage: tus-node.mjs DATA_DIR PORT');
  process.exit(2);
}
const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory: dir }),
});
const srv = http.createServer(tus.handle.bind(tus));
// Large single-request uploads (workloads A and F) must not be cut by Node's defaults.
srv.requestTimeout = 0;
srv.headersTimeout = 60_000;
srv.keepAliveTimeout = 60_000;
srv.maxConnections = 20_000;
srv.listen({ host: '127.0.0.1', port: Number(portArg), backlog: 4096 }, () => {
  console.log(`listening on http://127.0.0.1:${srv.address().port}/files/`);
});
const stop = () => srv.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
