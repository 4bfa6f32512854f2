import { connect } from "node:net";

const PROTOCOL_3_0 = 196_608;

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(PROTOCOL_3_0, 4);
  return Buffer.concat([header, body]);
}

/**
 * Whether PostgreSQL on `host:port` takes a login: it answers a startup message with an
 * authentication request ('R') rather than an error ('E', e.g. "the database system is starting
 * up"). Tells a server that is ready from one that only listens, without a client library.
 */
export function postgresAcceptsLogin(
  port: number,
  { host = "127.0.0.1", user = "postgres", database = "postgres" } = {},
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("close", () => finish(false));
    socket.once("connect", () => socket.write(startupMessage(user, database)));
    socket.once("data", (chunk: Buffer) => finish(chunk[0] === 0x52));
  });
}
