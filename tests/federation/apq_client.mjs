// Apollo Client (unmodified, from npm) with its persisted-query link, against our endpoint.
// Prints one JSON line: every HTTP exchange the link made, and the data it returned.
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const exchanges = [];

async function tracingFetch(url, init) {
  const response = await fetch(url, init);
  const body = await response.clone().json();
  const sentQuery =
    init.method === "GET"
      ? new URL(url).searchParams.has("query")
      : "query" in JSON.parse(init.body);
  exchanges.push({
    method: init.method,
    sentQuery,
    status: response.status,
    contentType: response.headers.get("content-type"),
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
  });
  return response;
}

const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([
    new PersistedQueryLink({
      sha256: (text) => createHash("sha256").update(text).digest("hex"),
      useGETForHashedQueries: true,
    }),
    new HttpLink({ uri: process.env.GRAPHQL_URL, fetch: tracingFetch }),
  ]),
});

const result = await client.query({
  query: gql`
    query PropertyCount {
      properties {
        totalCount
      }
    }
  `,
  fetchPolicy: "no-cache",
});
console.log(JSON.stringify({ exchanges, data: result.data, error: result.error?.message ?? null }));
