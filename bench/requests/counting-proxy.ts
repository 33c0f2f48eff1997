import { createServer, request, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/*
 * An HTTP proxy in front of the bench's dynalite that counts every request a handler's client
 * sends (retries included: they are requests too), by DynamoDB operation.
 *
 * dynalite ignores ReturnValuesOnConditionCheckFailure, so a failed conditional write comes
 * back without the existing item and a client then has to read it. DynamoDB (and DynamoDB
 * Local) return the item with the error. With `likeDynamoDb` the proxy does that read itself,
 * uncounted, and adds the item to the error, so the count is what DynamoDB would see.
 */

export interface CountingProxy {
  endpoint: string;
  likeDynamoDb: boolean;
  readonly total: number;
  byOperation: Map<string, number>;
  close(): Promise<void>;
}

interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function forward(upstream: URL, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: upstream.hostname, port: upstream.port, method: "POST", path, headers: { ...headers, "content-length": body.length } },
      (response) => {
        readAll(response).then((data) => resolve({ status: response.statusCode ?? 500, headers: response.headers, body: data }), reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startCountingProxy(upstreamEndpoint: string): Promise<CountingProxy> {
  const upstream = new URL(upstreamEndpoint);
  const byOperation = new Map<string, number>();

  const keyNames = new Map<string, string[]>();

  // The table's key attribute names, asked once per table (uncounted, like the read below).
  async function keyOf(path: string, headers: IncomingHttpHeaders, table: unknown): Promise<string[]> {
    const known = keyNames.get(String(table));
    if (known) return known;
    const described = await forward(
      upstream,
      path,
      { ...headers, "x-amz-target": "DynamoDB_20120810.DescribeTable" },
      Buffer.from(JSON.stringify({ TableName: table })),
    );
    const schema = parseObject(described.body.toString("utf8"))?.Table as { KeySchema?: { AttributeName: string }[] };
    const names = (schema?.KeySchema ?? []).map((key) => key.AttributeName);
    keyNames.set(String(table), names);
    return names;
  }

  // DynamoDB's answer to a failed condition that asked for ALL_OLD: the error plus the item.
  async function withExistingItem(
    path: string,
    headers: IncomingHttpHeaders,
    sent: Record<string, unknown>,
    answer: UpstreamResponse,
  ): Promise<UpstreamResponse> {
    const error = parseObject(answer.body.toString("utf8"));
    const failedCondition = String(error?.__type ?? "").endsWith("#ConditionalCheckFailedException");
    if (!error || !failedCondition || sent.ReturnValuesOnConditionCheckFailure !== "ALL_OLD") return answer;
    // UpdateItem and DeleteItem name the key; PutItem's key is inside its item.
    let key = sent.Key;
    const item = sent.Item;
    if (key === undefined && typeof item === "object" && item !== null) {
      const names = await keyOf(path, headers, sent.TableName);
      key = Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));
    }
    const read = await forward(
      upstream,
      path,
      { ...headers, "x-amz-target": "DynamoDB_20120810.GetItem" },
      Buffer.from(JSON.stringify({ TableName: sent.TableName, Key: key, ConsistentRead: true })),
    );
    const existing = parseObject(read.body.toString("utf8"))?.Item;
    if (existing === undefined) return answer;
    // The checksum covered the old body; the SDK does not need one.
    const { "x-amz-crc32": _checksum, ...answerHeaders } = answer.headers;
    return { ...answer, headers: answerHeaders, body: Buffer.from(JSON.stringify({ ...error, Item: existing })) };
  }

  const proxy: CountingProxy = {
    endpoint: "",
    likeDynamoDb: true,
    get total() {
      return [...byOperation.values()].reduce((sum, count) => sum + count, 0);
    },
    byOperation,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server = createServer((incoming, outgoing) => {
    const operation = String(incoming.headers["x-amz-target"] ?? "unknown").split(".").pop() ?? "unknown";
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
    const path = incoming.url ?? "/";
    readAll(incoming)
      .then(async (body) => {
        let answer = await forward(upstream, path, incoming.headers, body);
        const sent = parseObject(body.toString("utf8"));
        if (proxy.likeDynamoDb && answer.status === 400 && sent) {
          answer = await withExistingItem(path, incoming.headers, sent, answer);
        }
        outgoing.writeHead(answer.status, { ...answer.headers, "content-length": answer.body.length });
        outgoing.end(answer.body);
      })
      .catch((error: unknown) => {
        outgoing.writeHead(502);
        outgoing.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Never keeps the child alive on its own.
  server.unref();
  return proxy;
}
