/* privdrop.c — switch user, keep only what a reload needs (libcap). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "privdrop.h"
#include "util.h"

int
privdrop_resolve(const struct vd_conf *conf, struct privdrop_ids *ids,
    char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	memset(ids, 0, sizeof(*ids));
	ids->uid = geteuid();
	ids->gid = getegid();
	if (conf->user == NULL || conf->user[0] == '\0')
		return 0;
	errno = 0;
	if ((pw = getpwnam(conf->user)) == NULL) {
		snprintf(err, errlen, "user %s does not exist", conf->user);
		return -1;
	}
	vd_strlcpy(ids->user, conf->user, sizeof(ids->user));
	gr = NULL;
	if (conf->group != NULL && conf->group[0] != '\0' &&
	    (gr = getgrnam(conf->group)) == NULL) {
		snprintf(err, errlen, "group %s does not exist", conf->group);
		return -1;
	}
	if (geteuid() != 0)
		return 0;	/* not root: run as whoever started us */
	ids->switch_user = true;
	ids->uid = pw->pw_uid;
	ids->gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
	return 0;
}

/* Drop every capability but `keep` from the bounding set (needs CAP_SETPCAP). */
static void
drop_bounding(int keep)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (c != keep && CAP_IS_SUPPORTED(c))
			(void)cap_drop_bound((cap_value_t)c);
}

static int
set_caps(bool keep_bind)
{
	cap_value_t nbs = CAP_NET_BIND_SERVICE;
	cap_t caps;
	int r;

	if ((caps = cap_init()) == NULL)
		return -1;
	if (keep_bind && (cap_set_flag(caps, CAP_PERMITTED, 1, &nbs, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &nbs, CAP_SET) == -1)) {
		cap_free(caps);
		return -1;
	}
	r = cap_set_proc(caps);
	cap_free(caps);
	return r;
}

int
privdrop_master(const struct privdrop_ids *ids, bool keep_bind,
    char *err, size_t errlen)
{
	const char *what;

	if (!ids->switch_user)
		return 0;
	drop_bounding(keep_bind ? CAP_NET_BIND_SERVICE : -1);
	what = "prctl(PR_SET_KEEPCAPS)";
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		goto fail;
	what = "setgroups";
	if (setgroups(1, &ids->gid) == -1)
		goto fail;
	what = "setresgid";
	if (setresgid(ids->gid, ids->gid, ids->gid) == -1)
		goto fail;
	what = "setresuid";
	if (setresuid(ids->uid, ids->uid, ids->uid) == -1)
		goto fail;
	what = "cap_set_proc";
	if (set_caps(keep_bind) == -1)
		goto fail;
	what = "prctl(PR_SET_KEEPCAPS)";
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		goto fail;
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* the credential change made us non-dumpable: we want cores */
	what = "prctl(PR_SET_DUMPABLE)";
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot switch to user %s: %s: %s", ids->user,
	    what, strerror(errno));
	return -1;
}

int
privdrop_worker(void)
{
	cap_t caps;
	int r;

	if ((caps = cap_get_proc()) == NULL)
		return -1;
	if (cap_get_bound(CAP_SETPCAP) >= 0) {
		cap_flag_value_t v = CAP_CLEAR;
		(void)cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &v);
		if (v == CAP_SET)
			drop_bounding(-1);
	}
	cap_free(caps);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((caps = cap_init()) == NULL)
		return -1;
	r = cap_set_proc(caps);
	cap_free(caps);
	if (r == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}
