// A TLS terminator for tests of the client library's https:// and wss://: accepts TLS on a free
// loopback port with the given certificate and pipes each connection to the plain backend port.
//   node tls_proxy.mjs KEY.pem CERT.pem BACKEND_PORT   -> prints "listening on PORT"
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";

const [keyFile, certFile, backendPort] = process.argv.slice(2);
const server = tls.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (client) => {
  const backend = net.connect(Number(backendPort), "127.0.0.1");
  client.pipe(backend).pipe(client);
  const end = () => {
    client.destroy();
    backend.destroy();
  };
  client.on("error", end);
  backend.on("error", end);
});
server.listen(0, "127.0.0.1", () => console.error(`listening on ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
