// A schema-stitching gateway (graphql-tools, unmodified) over our live server and a small local
// "reviews" schema whose reviews each point at a Property by id. Runs one query through the
// stitched schema and prints the result as JSON on one line.
//
// MODE=keys   our SDL from GET /graphql/stitching.graphql through stitchingDirectivesTransformer:
//             Property merges by `id` through `propertiesByIds` (@merge(keyField: "id")), the
//             batched lookup: one request with every id (argsFromKeys).
// MODE=batch  the same SDL without the directives' help: Property merges through the
//             `property(id:)` root field, and `batch: true` folds the lookups of one tick into
//             one request of aliased root fields.
//
// Usage: PROPERTIES_URL=http://127.0.0.1:PORT/graphql/ MODE=keys IDS=1,2,3 node stitching_gateway.mjs
// (one review per property id in IDS, in that order)
import { buildHTTPExecutor } from "@graphql-tools/executor-http";
import { makeExecutableSchema } from "@graphql-tools/schema";
import { stitchSchemas } from "@graphql-tools/stitch";
import { stitchingDirectives } from "@graphql-tools/stitching-directives";
import { buildSchema, graphql } from "graphql";

const propertiesUrl = process.env.PROPERTIES_URL;
const mode = process.env.MODE ?? "keys";
const ids = (process.env.IDS ?? "").split(",").filter(Boolean);

const reviews = makeExecutableSchema({
  typeDefs: `
    type Review { id: ID! rating: Int! property: Property! }
    type Property { id: ID! }
    type Query { reviews: [Review!]! }
  `,
  resolvers: {
    Query: {
      reviews: () =>
        ids.map((id, i) => ({ id: `r${i}`, rating: 1 + (i % 5), property: { id } })),
    },
  },
});

const sdlResponse = await fetch(new URL("stitching.graphql", propertiesUrl));
if (!sdlResponse.ok) {
  console.error(`SDL ${sdlResponse.status}`);
  process.exit(2);
}
const typeDefs = await sdlResponse.text();
const executor = buildHTTPExecutor({ endpoint: propertiesUrl });
const { stitchingDirectivesTransformer, stitchingDirectivesValidator } = stitchingDirectives();

let properties;
if (mode === "keys") {
  properties = stitchingDirectivesTransformer({ schema: buildSchema(typeDefs), executor });
} else {
  properties = {
    schema: buildSchema(typeDefs),
    executor,
    batch: true,
    merge: {
      Property: { fieldName: "property", selectionSet: "{ id }", args: (p) => ({ id: p.id }) },
    },
  };
}
stitchingDirectivesValidator(buildSchema(typeDefs));

const gateway = stitchSchemas({ subschemas: [properties, { schema: reviews }] });
const query = `{
  reviews {
    rating
    property {
      id parcelId city
      listing { agentName }
      owner { name }
      taxAssessment { taxYear }
      location { latitude }
    }
  }
}`;
const result = await graphql({ schema: gateway, source: query });
console.log(JSON.stringify(result));
