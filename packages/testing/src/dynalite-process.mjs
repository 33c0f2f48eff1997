// dynalite on a free 127.0.0.1 port in a process of its own (see startDynaliteProcess in
// engines.ts). Plain JavaScript so that it starts without a TypeScript loader. It tells its
// parent the port over IPC and stops when the parent goes away.
import dynalite from "dynalite";

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ port: typeof address === "object" && address !== null ? address.port : 0 });
});
process.on("disconnect", () => process.exit(0));
