import { createCipheriv } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { sstDeployBuildOptions } from "./sst-build.ts";

/*
 * A stand-in for the SST CLI's RPC server (the `SST_SERVER` the platform code calls). `Provider.Aws.Bootstrap` answers with
 * fixed names; `Runtime.Build` really builds: the handler is bundled with esbuild the way
 * SST bundles Node functions for deploy (ESM, minified, node platform), and the links are
 * encrypted into `resource.enc` with the function's key, as the CLI does, so the bundle is the
 * one Lambda would run.
 */

export interface BuildRecord {
  functionID: string;
  handler: string;
  out: string;
  links: Record<string, Record<string, unknown>>;
  architecture: string | undefined;
  runtime: string;
}

interface BuildInput {
  functionID: string;
  handler: string;
  runtime: string;
  encryptionKey: string;
  links: Record<string, Record<string, unknown>>;
  properties?: { architecture?: string };
}

export interface RpcServer {
  url: string;
  builds: BuildRecord[];
  close(): Promise<void>;
}

async function runtimeBuild(root: string, outRoot: string, input: BuildInput) {
  // "packages/functions/src/webhook.handler" -> file packages/functions/src/webhook.ts, export handler.
  const dot = input.handler.lastIndexOf(".");
  const modulePath = input.handler.slice(0, dot);
  const out = join(outRoot, input.functionID);
  const result = await build({
    entryPoints: [join(root, `${modulePath}.ts`)],
    outfile: join(out, `${modulePath}.mjs`),
    ...sstDeployBuildOptions,
    logLevel: "silent",
  }).catch((error: unknown) => ({ errors: [error] }));
  if (result.errors.length > 0) {
    return { handler: input.handler, out, sourcemaps: [], errors: result.errors.map((e) => JSON.stringify(e)) };
  }
  const key = Buffer.from(input.encryptionKey, "base64");
  const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(input.links)), cipher.final(), cipher.getAuthTag()]);
  mkdirSync(dirname(join(out, "resource.enc")), { recursive: true });
  writeFileSync(join(out, "resource.enc"), encrypted);
  return { handler: input.handler, out, sourcemaps: [], errors: [] };
}

export async function startRpcServer(root: string, outRoot: string, onActivity: () => void): Promise<RpcServer> {
  const builds: BuildRecord[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      onActivity();
      const call = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { method: string; params: BuildInput[] };
      const reply = (body: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (call.method === "Provider.Aws.Bootstrap") {
        // The CLI's per-region bootstrap (asset bucket, ECR repo), created once per account.
        reply({ result: { asset: "sst-asset-mock", assetEcrRegistryId: "123456789012", assetEcrUrl: "123456789012.dkr.ecr.us-east-1.amazonaws.com/sst-asset", state: "sst-state-mock" } });
        return;
      }
      const input = call.params[0];
      if (call.method !== "Runtime.Build" || !input) {
        reply({ error: `rpc: can't find method ${call.method}` });
        return;
      }
      const result = await runtimeBuild(root, outRoot, input);
      builds.push({
        functionID: input.functionID,
        handler: input.handler,
        out: result.out,
        links: input.links,
        architecture: input.properties?.architecture,
        runtime: input.runtime,
      });
      onActivity();
      reply({ result });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // Unreferenced: a program that can make no more progress must let the event loop drain,
  // which is how a dependency cycle is detected (see runner.ts).
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    builds,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
