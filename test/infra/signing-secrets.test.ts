import { describe, expect, it } from "vitest";
import { parseSecretOverride, sharedEndpoint, strayEndpointIds, trustedSecrets } from "../../infra/signing-secrets.ts";

/*
 * The rules deciding which signing secrets the function trusts (infra/signing-secrets.ts);
 * the synth suite proves them end to end, these name each case.
 */

const current = "we_1CurrentEndpoint";
const replaced = "we_1ReplacedEndpoint";

describe("the StripeWebhookSecret override", () => {
  it("is empty when none is set", () => {
    expect(parseSecretOverride(undefined)).toEqual({ bindings: [], problems: [] });
  });

  it("binds each secret to its endpoint id, blanks around commas ignored", () => {
    expect(parseSecretOverride(`${current}:whsec_newSecret01, ${current}:whsec_oldSecret01`)).toEqual({
      bindings: [
        { endpointId: current, secret: "whsec_newSecret01" },
        { endpointId: current, secret: "whsec_oldSecret01" },
      ],
      problems: [],
    });
  });

  it("refuses a secret without its endpoint (the format before binding), saying how to write it", () => {
    const { bindings, problems } = parseSecretOverride("whsec_unboundSecret1,whsec_unboundSecret2");
    expect(bindings).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(/^Entry 1 of StripeWebhookSecret is a signing secret without the endpoint it belongs to/),
      expect.stringMatching(/^Entry 2 of StripeWebhookSecret/),
    ]);
    expect(problems[0]).toContain('"we_<endpoint id>:whsec_..."');
  });

  it("refuses anything else without quoting it: it may be a secret, or an API key pasted into the wrong place", () => {
    for (const value of ["sk_live_pastedByMistake", `${current}:sk_live_pastedByMistake`, "we_:whsec_abcdefgh1", ""]) {
      const { bindings, problems } = parseSecretOverride(value);
      expect(bindings, value).toEqual([]);
      expect(problems, value).toEqual(['StripeWebhookSecret is not "we_<endpoint id>:whsec_<signing secret>" (README, "Rotate the signing secret").']);
    }
  });
});

describe("the secrets trusted for an endpoint", () => {
  const bindings = parseSecretOverride(`${current}:whsec_rolledSecret1`).bindings;

  it("are its bound secrets when it has any: never its creation secret again (a rolled, maybe leaked, secret stays refused)", () => {
    expect(trustedSecrets(current, "whsec_creationSecret", bindings)).toEqual(["whsec_rolledSecret1"]);
  });

  it("are its own creation secret when the override is bound to another endpoint (this one replaced it)", () => {
    const stale = parseSecretOverride(`${replaced}:whsec_staleSecret01`).bindings;
    expect(trustedSecrets(current, "whsec_creationSecret", stale)).toEqual(["whsec_creationSecret"]);
    expect(strayEndpointIds(stale, [current])).toEqual([replaced]);
  });

  it("leave no stray ids when every binding belongs to one of the stage's endpoints", () => {
    expect(strayEndpointIds(bindings, [current, replaced])).toEqual([]);
  });
});

describe("a shared endpoint", () => {
  it("is the one endpoint the override is bound to", () => {
    expect(sharedEndpoint(parseSecretOverride(`${current}:whsec_sharedSecret1,${current}:whsec_sharedSecret2`))).toEqual({ endpointId: current, problems: [] });
  });

  it("needs an override, bound to exactly one endpoint", () => {
    expect(sharedEndpoint(parseSecretOverride(undefined)).problems).toEqual([expect.stringContaining("has no signing secret for it")]);
    expect(sharedEndpoint(parseSecretOverride(`${current}:whsec_sharedSecret1,${replaced}:whsec_sharedSecret2`)).problems).toEqual([
      expect.stringContaining("bound to 2 endpoints"),
    ]);
  });
});
