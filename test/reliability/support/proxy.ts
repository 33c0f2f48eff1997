import { randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/*
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB engine, to break it on purpose: stopped
 * (connections refused; connections in flight cut, whose requests may or may not have reached
 * the engine), throttling (DynamoDB's own 400 ProvisionedThroughputExceededException, which the
 * SDK retries with backoff), or slow (each request held before it is forwarded).
 */

export type ProxyMode = { kind: "pass" } | { kind: "throttle"; rate: number } | { kind: "slow"; holdMs: number };

export interface FaultProxy {
  endpoint: string;
  mode: ProxyMode;
  readonly counts: { forwarded: number; throttled: number; held: number; cut: number };
  /** Stops listening and cuts every open connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string, random: () => number): Promise<FaultProxy> {
  const upstream = new URL(target);
  if (upstream.hostname !== "127.0.0.1") throw new Error("the proxy only fronts engines on 127.0.0.1");
  const counts = { forwarded: 0, throttled: 0, held: 0, cut: 0 };
  const sockets = new Set<import("node:net").Socket>();
  let mode: ProxyMode = { kind: "pass" };
  let listening = false;
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    counts.forwarded += 1;
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (res.destroyed) {
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    out.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const current = mode;
      if (current.kind === "throttle" && random() < current.rate) {
        counts.throttled += 1;
        res.writeHead(400, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID() });
        res.end(
          JSON.stringify({
            __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            message: "The level of configured provisioned throughput for the table was exceeded.",
          }),
        );
        return;
      }
      if (current.kind === "slow") {
        counts.held += 1;
        // Forwarded late whatever became of the caller: a slow DynamoDB still applies the write.
        const timer = setTimeout(() => {
          timers.delete(timer);
          forward(req, body, res);
        }, current.holdMs);
        timers.add(timer);
        return;
      }
      forward(req, body, res);
    });
  });

  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        listening = true;
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;

  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    counts.cut += sockets.size;
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set mode(next: ProxyMode) {
      mode = next;
    },
    counts,
    stop,
    start: () => (listening ? Promise.resolve() : listen(port)),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await stop();
    },
  };
}
