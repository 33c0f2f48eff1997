// dynalite ships no types; this covers the part the test engines (packages/testing) and the local tools
// (packages/scripts) use. It lives outside both so that neither package reaches into the other.
declare module "dynalite" {
  import type { Server } from "node:http";

  interface DynaliteOptions {
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
  }

  /** An http.Server whose `close` also closes the LevelDB store once requests are done. */
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
