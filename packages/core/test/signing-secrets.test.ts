import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  formatSecretList,
  parseSecretOverride,
  resolveTrustedSecrets,
  secretFingerprint,
  sharedEndpoint,
  splitSecretList,
} from "../src/signing-secrets.ts";
import { parseSecrets } from "../src/verify.ts";

/*
 * The rules deciding which signing secrets a stage trusts (src/signing-secrets.ts); the synth
 * suite (test/infra/synth.test.ts) proves them end to end through the real sst.config.ts, these
 * name each case.
 */

const current = "we_1CurrentEndpoint";
const replaced = "we_1ReplacedEndpoint";
const draining = "we_1DrainingEndpoint";

describe("the StripeWebhookSecret override", () => {
  it("is empty when none is set", () => {
    expect(parseSecretOverride(undefined, "dev")).toEqual({ bindings: [], problems: [] });
  });

  it("binds each secret to its endpoint id, blanks around commas ignored", () => {
    expect(parseSecretOverride(`${current}:whsec_newSecret01, ${current}:whsec_oldSecret01`, "dev")).toEqual({
      bindings: [
        { endpointId: current, secret: "whsec_newSecret01" },
        { endpointId: current, secret: "whsec_oldSecret01" },
      ],
      problems: [],
    });
  });

  it("refuses a plain whsec_ (SST's usual form) with the command that binds it, never quoting the value", () => {
    const { bindings, problems } = parseSecretOverride("whsec_unboundSecret1,whsec_unboundSecret2", "alice");
    expect(bindings).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(/^Entry 1 of StripeWebhookSecret is a signing secret without the endpoint it belongs to/),
      expect.stringMatching(/^Entry 2 of StripeWebhookSecret/),
    ]);
    expect(problems[0]).toContain('npx sst secret set StripeWebhookSecret "we_<endpoint id>:whsec_..." --stage alice');
    expect(problems.join("\n")).not.toContain("unboundSecret");
  });

  it("fills in the endpoint id when the caller knows it", () => {
    const { problems } = parseSecretOverride("whsec_unboundSecret1", "alice", current);
    expect(problems).toEqual([expect.stringContaining(`npx sst secret set StripeWebhookSecret "${current}:whsec_..." --stage alice`)]);
  });

  it("refuses anything else without quoting it: it may be a secret, or an API key pasted into the wrong place", () => {
    for (const value of ["sk_live_pastedByMistake", `${current}:sk_live_pastedByMistake`, "we_:whsec_abcdefgh1", ""]) {
      const { bindings, problems } = parseSecretOverride(value, "dev");
      expect(bindings, value).toEqual([]);
      expect(problems, value).toEqual(['StripeWebhookSecret is not "we_<endpoint id>:whsec_<signing secret>" (README, "Rotate the signing secret").']);
    }
  });
});

describe("the secrets a stage trusts", () => {
  const endpoint = { id: current, creationSecret: "whsec_creationSecret" };

  it("without an override: each endpoint's creation secret, the pinned version's first", () => {
    const second = { id: draining, creationSecret: "whsec_drainingCreation" };
    expect(resolveTrustedSecrets([endpoint, second], [])).toEqual({
      trusted: [
        { endpointId: current, secret: "whsec_creationSecret", origin: "creation" },
        { endpointId: draining, secret: "whsec_drainingCreation", origin: "creation" },
      ],
      stray: [],
      withoutSecret: [],
    });
  });

  it("with a bound override: exactly its secrets, never the creation secret again (a rolled, maybe leaked, secret stays refused)", () => {
    const bindings = parseSecretOverride(`${current}:whsec_rolledSecret1,${current}:whsec_rolledSecret0`, "dev").bindings;
    expect(resolveTrustedSecrets([endpoint], bindings)).toEqual({
      trusted: [
        { endpointId: current, secret: "whsec_rolledSecret1", origin: "override" },
        { endpointId: current, secret: "whsec_rolledSecret0", origin: "override" },
      ],
      stray: [],
      withoutSecret: [],
    });
  });

  it("bound to an endpoint the stage no longer has: ignored and reported, the endpoint's own secret trusted", () => {
    const stale = parseSecretOverride(`${replaced}:whsec_staleSecret01`, "dev").bindings;
    expect(resolveTrustedSecrets([endpoint], stale)).toEqual({
      trusted: [{ endpointId: current, secret: "whsec_creationSecret", origin: "creation" }],
      stray: [replaced],
      withoutSecret: [],
    });
  });

  it("during an API-version upgrade, an override of one endpoint leaves the other on its creation secret", () => {
    const bindings = parseSecretOverride(`${draining}:whsec_drainingRolled`, "dev").bindings;
    const { trusted } = resolveTrustedSecrets([endpoint, { id: draining, creationSecret: "whsec_drainingCreation" }], bindings);
    expect(trusted.map((secret) => [secret.secret, secret.origin])).toEqual([
      ["whsec_creationSecret", "creation"],
      ["whsec_drainingRolled", "override"],
    ]);
  });

  it("on a shared endpoint (no endpoints of its own): exactly the bindings", () => {
    const bindings = parseSecretOverride(`${current}:whsec_sharedSecret1`, "pr-3").bindings;
    expect(resolveTrustedSecrets([], bindings)).toEqual({
      trusted: [{ endpointId: current, secret: "whsec_sharedSecret1", origin: "override" }],
      stray: [],
      withoutSecret: [],
    });
  });
});

describe("revoked secrets", () => {
  const endpoint = { id: current, creationSecret: "whsec_leakedCreation1" };
  const revoked = [secretFingerprint("whsec_leakedCreation1")];

  it("are never trusted: after a roll the override stands, and a removed override leaves the endpoint without a secret", () => {
    const rolled = parseSecretOverride(`${current}:whsec_rolledSecret1`, "dev").bindings;
    expect(resolveTrustedSecrets([endpoint], rolled, revoked)).toEqual({
      trusted: [{ endpointId: current, secret: "whsec_rolledSecret1", origin: "override" }],
      stray: [],
      withoutSecret: [],
    });
    expect(resolveTrustedSecrets([endpoint], [], revoked)).toEqual({ trusted: [], stray: [], withoutSecret: [current] });
  });

  it("are dropped from an override too, and a shared endpoint left with none is reported", () => {
    const bindings = parseSecretOverride(`${current}:whsec_leakedCreation1,${current}:whsec_rolledSecret1`, "pr-3").bindings;
    expect(resolveTrustedSecrets([], bindings, revoked).trusted.map((secret) => secret.secret)).toEqual(["whsec_rolledSecret1"]);
    const only = parseSecretOverride(`${current}:whsec_leakedCreation1`, "pr-3").bindings;
    expect(resolveTrustedSecrets([], only, revoked).withoutSecret).toEqual([current]);
  });
});

describe("the StripeWebhookSecret value", () => {
  it("is written in the form sst secret set takes, and the function reads back only the secrets", () => {
    const value = formatSecretList([
      { endpointId: current, secret: "whsec_first0001" },
      { endpointId: draining, secret: "whsec_second001" },
    ]);
    expect(value).toBe(`${current}:whsec_first0001,${draining}:whsec_second001`);
    expect(splitSecretList(value)).toEqual([
      { endpointId: current, secret: "whsec_first0001" },
      { endpointId: draining, secret: "whsec_second001" },
    ]);
    expect(parseSecrets(value)).toEqual(["whsec_first0001", "whsec_second001"]);
  });

  it("may hold plain secrets (the local receiver, stripe listen), blanks ignored", () => {
    expect(parseSecrets(" whsec_a , whsec_b,,")).toEqual(["whsec_a", "whsec_b"]);
    expect(splitSecretList("")).toEqual([]);
  });
});

describe("a secret's fingerprint", () => {
  it("is the first 8 hex digits of its SHA-256, as `printf %s <secret> | sha256sum` shows them", () => {
    const secret = "whsec_fingerprintMe01";
    expect(secretFingerprint(secret)).toBe(createHash("sha256").update(secret).digest("hex").slice(0, 8));
    expect(secretFingerprint(secret)).toMatch(/^[0-9a-f]{8}$/);
    expect(secretFingerprint("whsec_fingerprintMe02")).not.toBe(secretFingerprint(secret));
  });
});

describe("a shared endpoint", () => {
  it("is the one endpoint the override is bound to", () => {
    expect(sharedEndpoint(parseSecretOverride(`${current}:whsec_sharedSecret1,${current}:whsec_sharedSecret2`, "pr-3"), "pr-3")).toEqual({
      endpointId: current,
      problems: [],
    });
  });

  it("needs an override, bound to exactly one endpoint", () => {
    expect(sharedEndpoint(parseSecretOverride(undefined, "pr-3"), "pr-3").problems).toEqual([
      expect.stringContaining('has no signing secret for it: npx sst secret set StripeWebhookSecret "we_<shared endpoint id>:whsec_..." --stage pr-3'),
    ]);
    expect(sharedEndpoint(parseSecretOverride(`${current}:whsec_sharedSecret1,${replaced}:whsec_sharedSecret2`, "pr-3"), "pr-3").problems).toEqual([
      expect.stringContaining("bound to 2 endpoints"),
    ]);
  });
});
