// Package bonafide is the domain of the Bonafide liveness server: what the server is about, with
// no way of doing it. It holds three things and nothing else:
//
//   - the types: folders, media, analyses and their results, users, companies, sessions,
//     collections, capture sessions, erasures (domain.go and the file of each), and the one error type of
//     the Oz API with its codes (error.go);
//   - the interfaces the adapters implement: the Store and its parts, Blobs, the Analyzer that
//     runs an analysis (pipeline.go), the Embedder, and what the COLLECTION search reads;
//   - the rules that the API, the console, the CLI and the stores must apply alike, so that each
//     is written once: the registry of analysis types and the media each takes
//     (analysistype.go), the verdict over media results and the one error of a bad media
//     (pipeline.go), paging and the folder filter's values (folder.go), users, roles and
//     passwords (user.go), operator decisions and folder visibility (decision.go), account
//     changes (account.go), throttling (throttle.go), capture sessions (capture.go).
//
// It imports no adapter and no engine package, and has no SQL, no net/http and no SDKs
// (internal/importcheck checks this). How things are done lives elsewhere: HTTP in api,
// storage in sqlite and postgres, files in blob, the queue in jobs, analysis in pipeline over
// the engine (liveness, media, onnx); cmd/bonafide wires them together.
package bonafide
