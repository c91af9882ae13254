// Composes our subgraph with a small "reviews" subgraph using @apollo/composition, then serves
// them through an unmodified @apollo/gateway on loopback. Prints "READY <gateway url>" when up.
// Usage: PROPERTIES_URL=http://127.0.0.1:PORT/graphql/ node gateway.mjs
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

const gateway = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl }) });
const { url } = await startStandaloneServer(gateway, { listen: { host: "127.0.0.1", port: 0 } });
console.log(`READY ${url}`);
