import { Agent, request } from "node:http";

/* The sending side of the burst: a fixed list of deliveries, a fixed number in flight. */

export interface Delivery {
  eventId: string;
  body: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  wallMs: number;
  /** One per delivery, in list order. */
  statusCodes: number[];
  /** The handler's `result` or `error` code per delivery, when the body had one. */
  codes: (string | undefined)[];
  latenciesMs: number[];
}

const requestTimeoutMs = 15_000;

function codeOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { result, error } = parsed as { result?: unknown; error?: unknown };
    return typeof result === "string" ? result : typeof error === "string" ? error : undefined;
  } catch {
    return undefined;
  }
}

function post(agent: Agent, url: URL, delivery: Delivery): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: "POST", agent, headers: delivery.headers, timeout: requestTimeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
    outgoing.on("error", reject);
    outgoing.end(delivery.body);
  });
}

/** Sends every delivery to `url` (loopback only) with `concurrency` of them in flight at once. */
export async function sendAll(url: URL, deliveries: readonly Delivery[], concurrency: number): Promise<LoadResult> {
  if (url.hostname !== "127.0.0.1") throw new Error(`the burst only targets 127.0.0.1, not ${url.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = {
    wallMs: 0,
    statusCodes: new Array<number>(deliveries.length).fill(0),
    codes: new Array<string | undefined>(deliveries.length).fill(undefined),
    latenciesMs: new Array<number>(deliveries.length).fill(0),
  };
  let nextIndex = 0;
  async function worker(): Promise<void> {
    // Each worker takes the next delivery until none is left: at most `deliveries.length` posts.
    while (nextIndex < deliveries.length) {
      const index = nextIndex;
      nextIndex += 1;
      const delivery = deliveries[index];
      if (!delivery) continue;
      const started = performance.now();
      const answer = await post(agent, url, delivery).catch(() => ({ status: 0, body: "" }));
      result.latenciesMs[index] = performance.now() - started;
      result.statusCodes[index] = answer.status;
      result.codes[index] = codeOf(answer.body);
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  result.wallMs = performance.now() - started;
  agent.destroy();
  return result;
}
