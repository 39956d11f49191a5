package api

import (
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Role sets used by the rules.
var (
	everyone = []grading.Role{grading.RoleAdmin, grading.RoleInstructor, grading.RoleAssistant, grading.RoleStudent}
	staff    = []grading.Role{grading.RoleAdmin, grading.RoleInstructor, grading.RoleAssistant}
	teachers = []grading.Role{grading.RoleAdmin, grading.RoleInstructor}
	admins   = []grading.Role{grading.RoleAdmin}
)

// Kinds of resource a path id names, for finding its course.
const (
	ofCollection = "collection"
	ofConfig     = "config"
	ofBatch      = "batch"
	ofDelivery   = "delivery"
)

// rule is who may use one route.
type rule struct {
	// public routes need no credentials (health probes, CORS preflights).
	public bool
	// roles may use the route; in a course-scoped route, the caller's role
	// in the resource's course must be one of them.
	roles []grading.Role
	// scope, when set, is the kind of resource the path value "id" names:
	// the route acts on that resource's course. A caller who is not a
	// member of it gets 404, exactly as for an id that does not exist.
	scope string
	// ownOnly limits a student to deliveries of their own user (404
	// otherwise); scope must be ofDelivery.
	ownOnly bool
	// action names the route in the audit log; mutating routes are
	// recorded with it (their pattern when empty).
	action string
}

// rules is the authorization table, keyed by the exact mux pattern of each
// route. It is DEFAULT-DENY: a route without a line here answers 403 to
// everyone, so every new route needs one line below (and a row in the
// README's endpoint table). Body-scoped routes (the course is in the body)
// check the course in their handler; see requireCourseRole and requireRoleOf.
var rules = map[string]rule{
	"GET /livez":  {public: true},
	"GET /readyz": {public: true},

	"POST /v1/courses":         {roles: admins, action: "course.create"},
	"GET /v1/courses/{id}":     {roles: admins},
	"POST /v1/api-keys":        {roles: admins, action: "api_key.create"},
	"DELETE /v1/api-keys/{id}": {roles: admins, action: "api_key.revoke"},
	"GET /v1/audit":            {roles: admins},

	"POST /v1/collections":                 {roles: teachers, action: "collection.create"}, // course in body
	"GET /v1/collections/{id}":             {roles: everyone, scope: ofCollection},
	"POST /v1/collections/{id}/deliveries": {roles: []grading.Role{grading.RoleAdmin, grading.RoleInstructor, grading.RoleStudent}, scope: ofCollection, action: "delivery.create"},

	"POST /v1/grading-configs":     {roles: teachers, action: "config.create"}, // course in ?course=
	"GET /v1/grading-configs/{id}": {roles: staff, scope: ofConfig},

	// Environments are global: a teacher of any course may upload one.
	"POST /v1/environments":       {roles: teachers, action: "environment.create"},
	"GET /v1/environments":        {roles: staff},
	"GET /v1/environments/{name}": {roles: staff},

	"POST /v1/batches":                     {roles: teachers, action: "batch.start"}, // course of the body's collection
	"GET /v1/batches/{id}":                 {roles: staff, scope: ofBatch},
	"PATCH /v1/batches/{id}":               {roles: teachers, scope: ofBatch, action: "batch.set_concurrency"},
	"POST /v1/batches/{id}/cancel":         {roles: teachers, scope: ofBatch, action: "batch.cancel"},
	"POST /v1/batches/{id}/pause":          {roles: teachers, scope: ofBatch, action: "batch.pause"},
	"POST /v1/batches/{id}/resume":         {roles: teachers, scope: ofBatch, action: "batch.resume"},
	"POST /v1/batches/{id}/regrade-failed": {roles: staff, scope: ofBatch, action: "batch.regrade_failed"},
	"GET /v1/batches/{id}/results":         {roles: staff, scope: ofBatch},

	"GET /v1/deliveries/{id}/results/{config_id}":              {roles: everyone, scope: ofDelivery, ownOnly: true},
	"GET /v1/deliveries/{id}/results/{config_id}/gradescope":   {roles: teachers, scope: ofDelivery},
	"GET /v1/deliveries/{id}/results/{config_id}/prairielearn": {roles: teachers, scope: ofDelivery},

	"GET /v1/extensions/{name}/configuration": {roles: admins},

	"POST /v1/codec/encode":  {roles: staff},
	"POST /v1/codec/decode":  {roles: staff},
	"OPTIONS /v1/codec/{op}": {public: true},

	"GET /v1/collections":                 {roles: staff}, // filtered to the caller's courses
	"GET /v1/collections/{id}/deliveries": {roles: staff, scope: ofCollection},
	"GET /v1/batches":                     {roles: staff}, // filtered to the caller's courses
	"GET /v1/batches/{id}/results.csv":    {roles: staff, scope: ofBatch},

	"GET /v1/batches/{id}/events": {roles: staff, scope: ofBatch},

	// Instructor pages (cookie sign-in turns into the same bearer check).
	"GET /ui/static/":                             {public: true},
	"GET /ui/{$}":                                 {roles: staff},
	"GET /ui/batches/{id}":                        {roles: staff, scope: ofBatch},
	"GET /ui/batches/{id}/progress":               {roles: staff, scope: ofBatch},
	"GET /ui/batches/{id}/deliveries":             {roles: staff, scope: ofBatch},
	"GET /ui/deliveries/{id}/results/{config_id}": {roles: staff, scope: ofDelivery},

	// New routes: add one line above this comment, e.g.
	//	"GET /v1/collections":   {roles: staff},
}
