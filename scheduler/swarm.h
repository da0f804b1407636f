/* Swarm backend internals shared with its tests: parsers of services and tasks, the create body,
 * and the replica update of a service spec. The backend itself is scheduler_swarm_ops. */
#ifndef MSS_SWARM_H
#define MSS_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../utils/err.h"

struct cJSON;
struct task;

/* Conflicting writes: re-read the version and retry this many times, then back off for longer. */
#define SWARM_UPDATE_TRIES 5

/* One service as GET /services or GET /services/{id} shows it. */
struct swarm_service {
	char id[65];
	char name[128];
	uint64_t version;  /* Version.Index: the ?version= of the next update */
	bool replicated;   /* Mode.Replicated; false for global (and other) modes: not scalable */
	int replicas;      /* Mode.Replicated.Replicas */
	char owner[64];    /* its com.microscaling.owner label, "" if none */
};

/* GET /services: call fn for every well-formed service. Returns the number seen, or -1 with e
 * when the body is not a JSON array. */
int swarm_parse_services(const char *body, size_t len,
			 void (*fn)(const struct swarm_service *s, void *arg), void *arg,
			 struct err *e);

/* GET /services/{id}: the service, and (when spec is not NULL) a copy of its Spec for the update,
 * owned by the caller (cJSON_Delete). -1 with e on anything else. */
int swarm_parse_service(const char *body, size_t len, struct swarm_service *out,
			struct cJSON **spec, struct err *e);

/* Replicas of a service, as a scaler sees them (see swarm.c for how they become counters). */
struct swarm_counts {
	int running;  /* tasks whose container runs, including those being stopped */
	int wanted;   /* running and meant to keep running (desired state running) */
	int stopping; /* not finished yet, but told to stop (desired state shutdown/remove) */
};

/* One task as GET /tasks shows it. */
struct swarm_task {
	char service_id[65];
	char state[16];   /* Status.State: new ... running, complete, shutdown, failed, ... */
	char desired[16]; /* DesiredState */
};

/* GET /tasks: call fn for every well-formed task. Returns the number seen, or -1 with e. */
int swarm_parse_tasks(const char *body, size_t len,
		      void (*fn)(const struct swarm_task *t, void *arg), void *arg, struct err *e);

/* Add one task to the counts of its service. */
void swarm_tally(struct swarm_counts *c, const struct swarm_task *t);

/* Set Mode.Replicated.Replicas in a service Spec (in place). -1 with e if the service is not in
 * replicated mode. */
int swarm_set_replicas(struct cJSON *spec, int replicas, struct err *e);

/* The body of POST /services/create for a task: the task's image, command (as Args), env,
 * labels, stop signal and grace, CPU and memory limits; our task and owner labels on the service
 * and on its containers. Caller owns the result. */
struct cJSON *swarm_create_spec(const struct task *t, const char *name, const char *owner,
				int replicas);

/* Does an engine error message mean "someone else updated the service since you read it"? */
bool swarm_out_of_sequence(const char *msg);

/* One line of GET /events: the service name it is about (a service event's name, or a
 * container's com.docker.swarm.service.name label) into out. 1 if there is one, 0 for other
 * events, -1 for a line that is not an event. */
int swarm_parse_event(const char *line, size_t len, char *out, size_t n);

#endif
