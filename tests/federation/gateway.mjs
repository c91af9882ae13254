// Composes our subgraph with a small "reviews" subgraph using @apollo/composition, then serves
// them through an unmodified @apollo/gateway on loopback. Prints "READY <gateway url>" when up.
// Usage: PROPERTIES_URL=http://127.0.0.1:PORT/graphql/ node gateway.mjs
// With CAPTURE_TRACES=1 the gateway asks every subgraph for Apollo's inline trace (ftv1), as
// Apollo's usage reporting does on sampled requests, and adds what it decoded from each fetch
// to the response's `extensions.subgraphTraces`. Run with `--require ./tracing.cjs` for
// OpenTelemetry (traceparent in and out).
import { composeServices } from "@apollo/composition";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const propertiesUrl = process.env.PROPERTIES_URL;

const reviewsTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  type Property @key(fields: "parcelId") {
    parcelId: String!
    reviews: [Review!]!
  }
  type Review { rating: Int! comment: String! }
`);
const reviews = new ApolloServer({
  plugins: [ApolloServerPluginInlineTraceDisabled()],
  schema: buildSubgraphSchema({
    typeDefs: reviewsTypeDefs,
    resolvers: {
      Property: {
        __resolveReference: (ref) => ref,
        reviews: (property) => [{ rating: 4, comment: `Quiet street near ${property.parcelId}` }],
      },
    },
  }),
});
const { url: reviewsUrl } = await startStandaloneServer(reviews, { listen: { host: "127.0.0.1", port: 0 } });

const response = await fetch(propertiesUrl, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query: "{ _service { sdl } }" }),
});
const sdl = (await response.json()).data._service.sdl;

const composed = composeServices([
  { name: "properties", typeDefs: parse(sdl), url: propertiesUrl },
  { name: "reviews", typeDefs: reviewsTypeDefs, url: reviewsUrl },
]);
if (composed.errors) {
  console.error("COMPOSITION FAILED", composed.errors.map((e) => e.message).join("\n"));
  process.exit(2);
}

// What the gateway decoded from each subgraph's ftv1: its service, whether parsing failed,
// and the trace's field paths with their durations (ns), read with Apollo's own protobuf code.
function fetchTraces(node, found = []) {
  if (!node) return found;
  if (node.fetch) {
    const fields = [];
    const walk = (traceNode, path) => {
      for (const child of traceNode.child || []) {
        const key = child.responseName || child.index;
        const childPath = [...path, key];
        if (child.responseName) {
          fields.push({ path: childPath, durationNs: Number(child.endTime) - Number(child.startTime) });
        }
        walk(child, childPath);
      }
    };
    if (node.fetch.trace && node.fetch.trace.root) walk(node.fetch.trace.root, []);
    found.push({
      serviceName: node.fetch.serviceName,
      traceParsingFailed: !!node.fetch.traceParsingFailed,
      durationNs: node.fetch.trace ? Number(node.fetch.trace.durationNs) : null,
      fields,
    });
  }
  for (const child of node.sequence?.nodes || node.parallel?.nodes || []) fetchTraces(child, found);
  if (node.flatten) fetchTraces(node.flatten.node, found);
  return found;
}

const captureTraces = {
  async requestDidStart(requestContext) {
    requestContext.metrics.captureTraces = true;
    return {
      async willSendResponse({ metrics, response }) {
        if (response.body.kind === "single") {
          response.body.singleResult.extensions = {
            ...response.body.singleResult.extensions,
            subgraphTraces: fetchTraces(metrics.queryPlanTrace),
          };
        }
      },
    };
  },
};

const gateway = new ApolloServer({
  gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl }),
  plugins: process.env.CAPTURE_TRACES === "1" ? [captureTraces] : [],
});
const { url } = await startStandaloneServer(gateway, { listen: { host: "127.0.0.1", port: 0 } });
console.log(`READY ${url}`);
