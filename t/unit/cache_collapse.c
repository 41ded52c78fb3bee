/* t/unit/cache_collapse.c — the table of fetched keys in the stats segment:
 * one fetcher per key, the tie-break between contenders, release, the
 * master's retire clearing a dead worker's keys, a full table; a fetch
 * that streams its body file (read-while-writer) and what a waiter
 * watching it sees when it progresses, completes, vanishes or is reused;
 * the wake-ups: SIGWINCH to a subscribed waiter once per move, to the owner
 * when the first waiter of an unstreamed fetch comes. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_collapse.h"
#include "cache_key.h"
#include "stats.h"
#include "tap.h"

static struct cache_key
key(unsigned n)
{
	struct cache_key k;

	memset(&k, 0, sizeof(k));
	k.b[0] = (uint8_t)n;
	k.b[15] = (uint8_t)(n >> 8);
	k.b[7] = 0xa5;
	return k;
}

/* What a contender looks like between publishing and deciding. */
static int
publish_raw(struct stats_slot *s, const struct cache_key *k)
{
	for (int i = 0; i < STATS_COLLAPSE_MAX; i++)
		if (s->collapse[i].state == 0) {
			memcpy(s->collapse[i].key, k->b, 16);
			s->collapse[i].state = 1;	/* CLAIM */
			return i;
		}
	return -1;
}

static void
test_claims(struct stats_hdr *h)
{
	struct collapse w0, w1, w2;
	struct cache_key a = key(1), b = key(2);
	int h0, h1, h2, hx, rc;

	ok(collapse_init(&w0, h, 0) == VD_OK && collapse_init(&w1, h, 1) == VD_OK &&
	    collapse_init(&w2, h, 2) == VD_OK, "three workers attached");
	ok(collapse_init(&w2, h, h->nslots) == VD_ERR, "a slot out of range is refused");
	(void)collapse_init(&w2, h, 2);

	ok(!collapse_busy(&w0, &a), "nobody fetches a yet");
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "the first miss fetches");
	ok(h1 >= 0, "... and holds an entry");
	ok(collapse_busy(&w0, &a) && collapse_busy(&w2, &a), "every worker sees it busy");
	ok(!collapse_busy(&w0, &b), "another key is not busy");
	is_int(collapse_claim(&w1, &a, &hx), VD_AGAIN, "a second miss in the same worker waits");
	is_int(hx, -1, "... without an entry");
	is_int(collapse_claim(&w0, &a, &h0), VD_AGAIN, "a lower slot waits for a fetch under way");
	is_int(collapse_claim(&w2, &a, &h2), VD_AGAIN, "a higher slot waits too");
	ok(!collapse_busy(&w0, &b), "the waiters published nothing");
	collapse_release(&w1, h1);
	ok(!collapse_busy(&w0, &a), "released: not busy anywhere");

	/* two contenders: slot 2 published, has not decided yet */
	h2 = publish_raw(&h->slots[2], &a);
	rc = collapse_claim(&w1, &a, &h1);
	is_int(rc, VD_DECLINED, "a higher undecided contender: decide again later");
	ok(h1 >= 0, "... staying published");
	is_int(collapse_recheck(&w2, h2), VD_AGAIN, "the higher one sees the lower and withdraws");
	is_int(collapse_recheck(&w1, h1), VD_OK, "then the lower one fetches");
	is_int(collapse_claim(&w2, &a, &hx), VD_AGAIN, "a later miss waits for it");
	collapse_release(&w1, h1);

	/* the higher one decided before the lower published */
	is_int(collapse_claim(&w2, &b, &h2), VD_OK, "slot 2 fetches b");
	is_int(collapse_claim(&w0, &b, &h0), VD_AGAIN, "slot 0 sees FETCH: waits, tie-break or not");
	collapse_release(&w2, h2);

	/* a lower undecided contender wins */
	h0 = publish_raw(&h->slots[0], &b);
	is_int(collapse_claim(&w1, &b, &h1), VD_AGAIN, "a lower contender wins the tie");
	is_int(collapse_recheck(&w0, h0), VD_OK, "... and fetches");
	collapse_release(&w0, h0);
	ok(!collapse_busy(&w1, &b), "all released");
	is_int(collapse_recheck(&w0, h0), VD_ERR, "a released entry cannot be rechecked");

	/* a worker dies while fetching: the master retires its slot */
	h->slots[1].pid = 12345;
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "slot 1 fetches a");
	stats_retire(h, &h->slots[1]);
	ok(!collapse_busy(&w0, &a), "its slot retired: a is not busy any more");
	is_int(collapse_claim(&w0, &a, &h0), VD_OK, "and the next miss fetches it");
	collapse_release(&w0, h0);
}

static void
test_stream(struct stats_hdr *h)
{
	struct collapse w0, w1;
	struct collapse_watch cw, old;
	struct cache_key a = key(3), b = key(4);
	uint64_t n;
	int h1, hx;

	(void)collapse_init(&w0, h, 0);
	(void)collapse_init(&w1, h, 1);
	h->slots[1].pid = 4242;
	is_int(collapse_find(&w0, &a, &cw), VD_DECLINED, "nobody fetches: nothing to watch");
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "slot 1 fetches a");
	is_int(collapse_find(&w0, &a, &cw), VD_AGAIN, "fetching, not streaming yet: wait");
	collapse_stream(&w1, h1, 0x77, 100);
	is_int(collapse_find(&w0, &a, &cw), VD_OK, "streaming: found");
	ok(cw.slot == 1 && cw.pid == 4242 && cw.file == 0x77, "... whose file, by which pid");
	ok(collapse_busy(&w0, &a), "a streaming key is busy");
	is_int(collapse_claim(&w0, &a, &hx), VD_AGAIN, "a miss waits for a stream");
	is_int(collapse_find(&w0, &b, &cw), VD_DECLINED, "another key: nothing");
	(void)collapse_find(&w0, &a, &cw);
	is_int(collapse_watch(&w0, &cw, &n), VD_AGAIN, "being written");
	is_int(n, 100, "... 100 bytes so far");
	collapse_progress(&w1, h1, 5000);
	is_int(collapse_watch(&w0, &cw, &n), VD_AGAIN, "more written");
	is_int(n, 5000, "... 5000 bytes");
	collapse_complete(&w1, h1, 6000);
	is_int(collapse_watch(&w0, &cw, &n), VD_DONE, "complete");
	is_int(n, 6000, "... its size");
	collapse_progress(&w1, h1, 7000);
	(void)collapse_watch(&w0, &cw, &n);
	is_int(n, 6000, "no progress after complete");
	collapse_release(&w1, h1);
	is_int(collapse_watch(&w0, &cw, &n), VD_ERR, "released: the stream is gone");

	/* the same entry reused for the same key by another fetch */
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "a new fetch of a");
	old = cw;
	is_int(collapse_watch(&w0, &old, &n), VD_ERR, "the old stream's watch sees it is not its own");
	collapse_stream(&w1, h1, 0x78, 0);
	is_int(collapse_watch(&w0, &old, &n), VD_ERR, "... nor once it streams another file");
	is_int(collapse_find(&w0, &a, &cw), VD_OK, "the new stream is found");
	is_int(cw.file, 0x78, "... with its own file");
	collapse_stream(&w1, h1, 0x79, 0);
	(void)collapse_find(&w0, &a, &cw);
	is_int(cw.file, 0x78, "stream is said once per fetch");

	/* the writer dies: the master retires its slot */
	stats_retire(h, &h->slots[1]);
	is_int(collapse_watch(&w0, &cw, &n), VD_ERR, "retired: the stream is gone");
	h->slots[1].pid = 4343;
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "a respawned worker in the slot fetches a");
	collapse_stream(&w1, h1, 0x78, 0);
	is_int(collapse_watch(&w0, &cw, &n), VD_ERR,
	    "... the same file id under another pid is not the old stream");
	collapse_release(&w1, h1);
	h->slots[1].pid = 0;
}

/* SIGWINCHs pending for us (blocked), taken: 0 or 1 (they do not queue). */
static int
wakeups(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;
	int n = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	while (sigtimedwait(&set, NULL, &zero) == SIGWINCH)
		n++;
	return n;
}

/* Slots 0 and 1 are both this process: each signal to either comes here. */
static void
test_wake(struct stats_hdr *h)
{
	struct collapse w0, w1;
	struct collapse_watch cw;
	struct collapse_ask ask;
	struct cache_key a = key(5), b = key(6);
	sigset_t set;
	uint64_t n;
	int h1;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	(void)collapse_init(&w0, h, 0);
	(void)collapse_init(&w1, h, 1);
	h->slots[0].pid = h->slots[1].pid = getpid();
	(void)wakeups();

	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "wake: slot 1 fetches a");
	ok(!collapse_wanted(&w1, h1), "nobody waits for it yet");
	ok(!collapse_subscribe(&w0, &b, &ask), "subscribing to a key nobody fetches: not busy");
	is_int(wakeups(), 0, "... and no signal");
	ok(collapse_subscribe(&w0, &a, &ask), "a waiter subscribes: busy");
	is_int(wakeups(), 1, "... the owner hears of its first waiter (it may start a file)");
	ok(collapse_wanted(&w1, h1), "... and sees it wanted");
	ok(ask.slot == 1 && ask.idx == h1, "... it asked slot 1's entry");
	ok(collapse_unmoved(&w0, &ask), "... which has not moved since");
	ok(collapse_subscribe(&w0, &a, &ask), "a second subscription");
	is_int(wakeups(), 0, "... tells the owner nothing new");
	collapse_stream(&w1, h1, 0x90, 10);
	is_int(wakeups(), 1, "streaming: the waiter is woken");
	ok(!collapse_unmoved(&w0, &ask), "... its entry moved");
	ok(!collapse_wanted(&w1, h1), "... a stream is not wanted any more");
	collapse_progress(&w1, h1, 20);
	is_int(wakeups(), 0, "progress nobody asked for: no signal");
	is_int(collapse_find(&w0, &a, &cw), VD_OK, "the waiter follows the stream");
	is_int(collapse_watch_subscribe(&w0, &cw, &n, &ask), VD_AGAIN, "caught up, it subscribes");
	is_int(n, 20, "... having seen what is written");
	is_int(wakeups(), 0, "... which tells a streaming owner nothing");
	ok(collapse_unmoved(&w0, &ask), "... unmoved since");
	collapse_progress(&w1, h1, 30);
	is_int(wakeups(), 1, "more written: woken");
	ok(!collapse_unmoved(&w0, &ask), "... moved");
	collapse_progress(&w1, h1, 40);
	is_int(wakeups(), 0, "... once per subscription");
	(void)collapse_watch_subscribe(&w0, &cw, &n, &ask);
	collapse_complete(&w1, h1, 50);
	is_int(wakeups(), 1, "complete: woken");
	ok(collapse_subscribe(&w0, &a, &ask), "a waiter for the stored object subscribes");
	collapse_release(&w1, h1);
	is_int(wakeups(), 1, "released: woken");
	ok(!collapse_subscribe(&w0, &a, &ask), "released: not busy");
	is_int(collapse_claim(&w1, &a, &h1), VD_OK, "the entry fetches a again");
	ok(!collapse_wanted(&w1, h1), "... with no waiters left over");
	h->slots[0].pid = 0;
	ok(collapse_subscribe(&w1, &a, &ask), "slot 1 waits for its own fetch");
	collapse_release(&w1, h1);
	is_int(wakeups(), 1, "... and signals itself on release");
	(void)collapse_claim(&w0, &a, &h1);
	ok(collapse_subscribe(&w1, &a, &ask), "slot 1 waits for a fetch of slot 0, whose pid is gone");
	is_int(wakeups(), 0, "... no signal to a dead slot");
	collapse_release(&w0, h1);
	h->slots[1].pid = 0;
}

static void
test_full(struct stats_hdr *h)
{
	struct collapse w;
	int hs[STATS_COLLAPSE_MAX], hx, n = 0;

	(void)collapse_init(&w, h, 3);
	for (int i = 0; i < STATS_COLLAPSE_MAX; i++) {
		struct cache_key k = key(100 + (unsigned)i);

		n += collapse_claim(&w, &k, &hs[i]) == VD_OK;
	}
	is_int(n, STATS_COLLAPSE_MAX, "a table's worth of keys fetched at once");
	{
		struct cache_key k = key(999);

		is_int(collapse_claim(&w, &k, &hx), VD_ERR, "one more: fetch without collapsing");
		ok(!collapse_busy(&w, &k), "... unpublished");
	}
	for (int i = 0; i < STATS_COLLAPSE_MAX; i++)
		collapse_release(&w, hs[i]);

	collapse_off(&w);
	{
		struct cache_key k = key(1);

		is_int(collapse_claim(&w, &k, &hx), VD_ERR, "off: every miss fetches");
		ok(!collapse_busy(&w, &k), "off: nothing is busy");
	}
}

static void
test_attach(struct stats_hdr *h, const char *dir)
{
	struct collapse co;

	ok(collapse_attach(&co, &h->slots[2], dir) == VD_DECLINED,
	    "attach needs our pid in a slot");
	h->slots[2].pid = getpid();
	ok(collapse_attach(&co, &h->slots[2], dir) == VD_OK, "attached through the stats file");
	ok(co.hdr == h && co.self == 2, "... to our own map, slot 2");
	ok(collapse_attach(&co, &h->slots[2], "/nonexistent") == VD_DECLINED && co.hdr == NULL,
	    "no stats file: off");
	h->slots[2].pid = 0;
}

int
main(void)
{
	char dir[] = "/tmp/vd-unit-collapse-XXXXXX";
	char path[512];
	struct stats_hdr *h;
	size_t len;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/stats", dir);
	h = stats_create(path, 4, &len);
	ok(h != NULL, "segment created");
	if (h != NULL) {
		test_claims(h);
		test_stream(h);
		test_wake(h);
		test_full(h);
		test_attach(h, dir);
		stats_unmap(h, len);
	}
	unlink(path);
	rmdir(dir);
	return done_testing();
}
