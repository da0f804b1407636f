/* Shutdown transitions (see shutdown.h for the diagram). */
#include "shutdown.h"

void shutdown_init(struct shutdown *sd)
{
	sd->state = SHUTDOWN_RUNNING;
	sd->exit_code = 0;
}

enum shutdown_action shutdown_step(struct shutdown *sd, enum shutdown_event ev)
{
	switch (sd->state) {
	case SHUTDOWN_RUNNING:
		if (ev != SHUTDOWN_EV_SIGNAL)
			return SHUTDOWN_ACT_NONE;
		sd->state = SHUTDOWN_DRAINING;
		return SHUTDOWN_ACT_DRAIN;
	case SHUTDOWN_DRAINING:
		if (ev == SHUTDOWN_EV_IDLE) {
			sd->state = SHUTDOWN_DONE;
			sd->exit_code = 0;
			return SHUTDOWN_ACT_EXIT;
		}
		if (ev == SHUTDOWN_EV_DEADLINE || ev == SHUTDOWN_EV_SIGNAL) {
			sd->state = SHUTDOWN_FORCING;
			sd->exit_code = 1;
			return SHUTDOWN_ACT_FORCE;
		}
		return SHUTDOWN_ACT_NONE;
	case SHUTDOWN_FORCING:
		if (ev == SHUTDOWN_EV_DEADLINE)
			return SHUTDOWN_ACT_NONE;
		sd->state = SHUTDOWN_DONE;
		sd->exit_code = 1; /* a forced drain is never clean, even if it ended with nothing left */
		return SHUTDOWN_ACT_EXIT;
	case SHUTDOWN_DONE:
		return SHUTDOWN_ACT_NONE;
	}
	return SHUTDOWN_ACT_NONE;
}

const char *shutdown_state_name(enum shutdown_state s)
{
	static const char *names[] = {"running", "draining", "forcing", "done"};
	return (unsigned)s < 4 ? names[s] : "?";
}
