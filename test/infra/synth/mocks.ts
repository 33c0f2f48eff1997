import { randomBytes } from "node:crypto";

/*
 * Pulumi mocks standing in for the AWS and Stripe control planes, which cannot be reached
 * here. They answer like the providers would for the few outputs the program reads (ids,
 * ARNs, CloudFront domain, function URL, queue URLs, the endpoint's signing secret) and record every
 * registration so the test can assert the graph.
 */

export const region = "us-east-1";
export const accountId = "123456789012";

/** The id the mocked Stripe API gives the endpoint named `name`, in Stripe's `we_` format. */
export const mockEndpointId = (name: string) => `we_${name}`;
/** The signing secret the mocked Stripe API returns when it creates the endpoint named `name`. */
export const mockEndpointSecret = (name: string) => `whsec_created_for_${name}`;

export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  state: Record<string, unknown>;
}

interface MockResourceArgs {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom?: boolean;
  id?: string;
}

interface MockCallArgs {
  token: string;
  inputs: Record<string, unknown>;
}

function arn(service: string, name: string): string {
  return `arn:aws:${service}:${region}:${accountId}:${name}`;
}

function outputsFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const physical = typeof inputs.name === "string" ? inputs.name : `${name}-mock`;
  switch (type) {
    case "aws:cloudfront/distribution:Distribution":
      return { domainName: `${name.toLowerCase()}.cloudfront.net`, arn: arn("cloudfront", `distribution/${name}`), hostedZoneId: "Z2FDTNDATAQYW2" };
    case "aws:dynamodb/table:Table":
      return { name: physical, arn: arn("dynamodb", `table/${physical}`), streamArn: "" };
    case "aws:sqs/queue:Queue": {
      // Like the provider's autonaming: a FIFO queue's name must end in .fifo.
      const queueName = typeof inputs.name === "string" ? inputs.name : `${name}-mock${inputs.fifoQueue === true ? ".fifo" : ""}`;
      return { name: queueName, arn: arn("sqs", queueName), url: `https://sqs.${region}.amazonaws.com/${accountId}/${queueName}` };
    }
    case "aws:lambda/functionUrl:FunctionUrl":
      return { functionUrl: `https://${name.toLowerCase()}.lambda-url.${region}.on.aws/`, urlId: name };
    case "aws:lambda/function:Function":
      return { name: physical, arn: arn("lambda", `function:${physical}`), invokeArn: arn("lambda", physical), qualifiedArn: arn("lambda", physical), version: "$LATEST" };
    case "stripe:index/webhookEndpoint:WebhookEndpoint":
      return { secret: mockEndpointSecret(name) };
    case "aws:acm/certificate:Certificate": {
      const domains = [inputs.domainName, ...((inputs.subjectAlternativeNames as unknown[] | undefined) ?? [])];
      return {
        arn: arn("acm", `certificate/${name}`),
        domainValidationOptions: domains.map((domainName) => ({
          domainName,
          resourceRecordName: `_validation.${String(domainName)}.`,
          resourceRecordType: "CNAME",
          resourceRecordValue: "_validation.acm-validations.aws.",
        })),
      };
    }
    case "pulumi-nodejs:dynamic:Resource":
      // SST's HostedZoneLookup answers with the Route 53 zone of the custom domain.
      return name.includes("ZoneLookup") ? { zoneId: "ZMOCKHOSTEDZONE" } : {};
    case "random:index/randomBytes:RandomBytes":
      return { base64: randomBytes(Number(inputs.length ?? 32)).toString("base64"), hex: "" };
    default:
      return { name: physical, arn: arn(type.split(":")[1]?.split("/")[0] ?? "mock", physical) };
  }
}

export function createMocks(onRegister: (registration: Registration) => void) {
  return {
    newResource(args: MockResourceArgs): { id: string; state: Record<string, unknown> } {
      const state = { ...args.inputs, ...outputsFor(args.type, args.name, args.inputs) };
      onRegister({ type: args.type, name: args.name, custom: args.custom ?? true, inputs: args.inputs, state });
      const id = args.type === "stripe:index/webhookEndpoint:WebhookEndpoint" ? mockEndpointId(args.name) : `${args.name}-id`;
      return { id: args.id || id, state };
    },
    call(args: MockCallArgs): Record<string, unknown> {
      switch (args.token) {
        case "aws:index/getRegion:getRegion":
          return { name: region, region, id: region, endpoint: `ec2.${region}.amazonaws.com`, description: "US East (N. Virginia)" };
        case "aws:index/getCallerIdentity:getCallerIdentity":
          return { accountId, arn: `arn:aws:iam::${accountId}:user/synth`, userId: "SYNTH", id: accountId };
        case "aws:index/getPartition:getPartition":
          return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws", reverseDnsPrefix: "com.amazonaws" };
        case "aws:iam/getPolicyDocument:getPolicyDocument": {
          // Like the provider: the inputs echoed back, plus the rendered IAM JSON.
          const statements = (args.inputs.statements ?? []) as { effect?: string; actions?: string[]; resources?: string[] }[];
          const rendered = statements.map((s) => ({ Effect: s.effect ?? "Allow", Action: s.actions, Resource: s.resources }));
          return { ...args.inputs, json: JSON.stringify({ Version: "2012-10-17", Statement: rendered }) };
        }
        default:
          return { ...args.inputs, id: `${args.token}-id` };
      }
    },
  };
}
