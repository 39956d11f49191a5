// Package api is ZINC core's HTTP API: JSON under /v1 for collections,
// deliveries, grading configs, batches and results, the extension
// configuration of RFD 0010, and the process's /livez and /readyz.
//
// # Routes
//
//	POST  /v1/collections                                      create a collection
//	GET   /v1/collections/{id}                                 read it
//	POST  /v1/collections/{id}/deliveries                      upload a delivery (multipart: user, files)
//	POST  /v1/grading-configs                                  upload a definition (YAML body, or multipart: definition, files)
//	GET   /v1/grading-configs/{id}                             read it
//	POST  /v1/environments                                     upload an environment image (tar body with ?name=, or multipart: name, image)
//	GET   /v1/environments[/{name}]                            list them, or read one
//	POST  /v1/batches                                          start a batch
//	GET   /v1/batches/{id}                                     status, progress, summary
//	PATCH /v1/batches/{id}                                     change its concurrency
//	POST  /v1/batches/{id}/cancel|pause|resume|regrade-failed  steer it
//	GET   /v1/batches/{id}/results                             one row per delivery
//	GET   /v1/deliveries/{id}/results/{config_id}              one result; ?view=student honours visibility
//	GET   /v1/deliveries/{id}/results/{config_id}/gradescope   as Gradescope results.json
//	GET   /v1/deliveries/{id}/results/{config_id}/prairielearn as PrairieLearn results.json
//	GET   /v1/extensions/{name}/configuration                  Temporal settings for an extension
//
// # Errors
//
// Every error is JSON {"error": "...", "details": ...}. Handlers return
// errors; one function, classify, turns them into status codes: unknown ids
// are 404, state conflicts 409, bad input 400, oversize bodies and archives
// 413, a wrong method 405 (with Allow), an unknown path 404, anything else a
// generic 500 whose cause is logged there, once. Bad input is rejected before
// anything is written.
package api
