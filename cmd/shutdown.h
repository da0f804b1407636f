/* The shutdown state machine, pure so it is tested without a loop:
 *   RUNNING --signal--> DRAINING (demand 0 everywhere, wait MSS_SHUTDOWN_TIMEOUT)
 *   DRAINING --idle--> DONE, exit 0          DRAINING --deadline or 2nd signal--> FORCING
 *   FORCING (kill + remove without grace) --idle or force deadline or 3rd signal--> DONE, exit 1 */
#ifndef MSS_SHUTDOWN_H
#define MSS_SHUTDOWN_H

enum shutdown_state { SHUTDOWN_RUNNING, SHUTDOWN_DRAINING, SHUTDOWN_FORCING, SHUTDOWN_DONE };

enum shutdown_event {
	SHUTDOWN_EV_SIGNAL,         /* SIGTERM or SIGINT */
	SHUTDOWN_EV_IDLE,           /* nothing running and nothing in flight */
	SHUTDOWN_EV_DEADLINE,       /* MSS_SHUTDOWN_TIMEOUT passed while draining */
	SHUTDOWN_EV_FORCE_DEADLINE, /* the short force phase passed */
};

enum shutdown_action {
	SHUTDOWN_ACT_NONE,
	SHUTDOWN_ACT_DRAIN, /* stop the engine, every demand to 0, start the deadline */
	SHUTDOWN_ACT_FORCE, /* the backend kills what is left; start the force deadline */
	SHUTDOWN_ACT_EXIT,  /* close everything and exit with exit_code */
};

/* How long the force phase may take before we exit anyway. */
#define SHUTDOWN_FORCE_MS 5000

struct shutdown {
	enum shutdown_state state;
	int exit_code; /* meaningful once state is DONE: 0 clean drain, 1 not clean */
};

void shutdown_init(struct shutdown *sd);
enum shutdown_action shutdown_step(struct shutdown *sd, enum shutdown_event ev);
const char *shutdown_state_name(enum shutdown_state s);

#endif
