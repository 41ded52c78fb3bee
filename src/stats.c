/* stats.c — placeholder until the process model lands. */
#include "config.h"
#include "viaduct.h"
#include "stats.h"
