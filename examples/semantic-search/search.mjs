// Semantic search with libSQL's vector functions, against a Litehouse server (or sqld, or Turso):
//
//   litehouse serve --db-path ./data &                    # or: make serve
//   npm install                                           # @libsql/client, in this folder
//   node search.mjs http://127.0.0.1:8080 "what do cats eat"
//
// The data set is small and made up, so that nothing is downloaded: each document comes with an
// embedding over six topics (animals, food, sport, technology, weather, music), as a real
// embedding model would give one over hundreds of dimensions; a query is embedded from the topic
// words it holds. The rows live in an F32_BLOB(6) column, written with vector32(), indexed by
// libSQL's vector index (libsql_vector_idx); the search asks the index for the k nearest rows
// (vector_top_k, which returns their rowids) and joins them with the table. Without the index,
// ORDER BY vector_distance_cos(...) LIMIT k gives the same answer by reading every row.
import { createClient } from "@libsql/client";

const TOPICS = ["animals", "food", "sport", "technology", "weather", "music"];
const DOCUMENTS = [
  ["Cats are carnivores: they eat meat and fish.", [0.8, 0.6, 0, 0, 0, 0]],
  ["Dogs love long walks in the park.", [0.9, 0, 0.3, 0, 0.1, 0]],
  ["A good sourdough needs flour, water, salt and time.", [0, 1, 0, 0, 0, 0]],
  ["The marathon was run in the rain this year.", [0, 0, 0.8, 0, 0.6, 0]],
  ["Our database replicates every committed page to its replicas.", [0, 0, 0, 1, 0, 0]],
  ["Storms are expected on the coast tomorrow.", [0, 0, 0, 0, 1, 0]],
  ["The orchestra played Brahms under the stars.", [0, 0, 0, 0, 0.2, 0.9]],
  ["Parrots can learn to whistle a tune.", [0.7, 0, 0, 0, 0, 0.5]],
  ["A new phone chip runs language models offline.", [0, 0, 0, 1, 0, 0.1]],
  ["Football fans sang through the whole match.", [0, 0, 0.8, 0, 0, 0.5]],
];
const WORDS = {
  animals: ["cat", "cats", "dog", "dogs", "pet", "pets", "animal", "animals", "bird", "parrot"],
  food: ["eat", "eats", "food", "bread", "cook", "meal", "recipe"],
  sport: ["run", "running", "match", "football", "sport", "race"],
  technology: ["database", "computer", "phone", "software", "replica", "chip"],
  weather: ["rain", "storm", "weather", "sun", "wind"],
  music: ["music", "song", "sing", "tune", "concert", "orchestra"],
};

// A query's embedding: how many of each topic's words it holds.
export function embed(text) {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  return TOPICS.map((t) => words.filter((w) => WORDS[t].includes(w)).length);
}

export async function search(client, query, k = 3) {
  await client.batch(
    [
      "CREATE TABLE IF NOT EXISTS documents (id INTEGER PRIMARY KEY, body TEXT NOT NULL, embedding F32_BLOB(6))",
      "CREATE INDEX IF NOT EXISTS documents_idx ON documents (libsql_vector_idx(embedding, 'metric=cosine'))",
      "DELETE FROM documents",
      ...DOCUMENTS.map(([body, e]) => ({ sql: "INSERT INTO documents (body, embedding) VALUES (?, vector32(?))", args: [body, JSON.stringify(e)] })),
    ],
    "write",
  );
  const { rows } = await client.execute({
    sql: `SELECT body, vector_distance_cos(embedding, vector32(?1)) AS distance
          FROM vector_top_k('documents_idx', vector32(?1), ?2) AS top JOIN documents ON documents.rowid = top.id
          ORDER BY distance`,
    args: [JSON.stringify(embed(query)), k],
  });
  return rows.map((r) => ({ body: r.body, distance: Number(r.distance) }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url = "http://127.0.0.1:8080", query = "what do cats eat"] = process.argv.slice(2);
  const client = createClient({ url, authToken: process.env.TURSO_AUTH_TOKEN });
  try {
    for (const { body, distance } of await search(client, query)) console.log(`${distance.toFixed(3)}  ${body}`);
  } finally {
    client.close();
  }
}
