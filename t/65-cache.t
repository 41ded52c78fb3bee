#!/usr/bin/perl
# The cache on the request path (issue 6, first cut): a scriptable origin
# counts what reaches it while viaduct answers from its LMDB store.  Fresh
# hits carry Age and the stored bytes; HEAD is answered from a stored GET;
# no-store and private responses are never stored; a stale object goes to
# the origin again; request no-cache and only-if-cached; POST invalidates;
# a 1 MiB body (a body file, sendfile) comes back byte-exact; an origin that
# closes mid-body leaves nothing stored; the cache is warm after a restart;
# viaductctl inserts / lookups equal what this test counts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;
use IO::Handle;
use Socket;

my $big = join('', map { sprintf("%07d\n", $_) } 0 .. 131071);	# 1 MiB
is(length $big, 1048576, 'the large body is 1 MiB');

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }

sub resp {
	my ($status, $hdr, $body) = @_;
	return "HTTP/1.1 $status\r\nDate: " . date() . "\r\n$hdr" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

my $n = 0;	# with the pid of the connection's child: distinguishes the origin's answers
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $path) = $req =~ m{^(\S+) (\S+)};
	$n++;
	return resp('200 OK', "Content-Type: text/plain\r\nCache-Control: max-age=300\r\n",
	    "fresh $path\n") if $path =~ m{^/fresh};
	return resp('200 OK', "Cache-Control: no-store\r\n", "nostore $$.$n\n") if $path eq '/nostore';
	return resp('200 OK', "Cache-Control: private, max-age=300\r\n", "private $$.$n\n")
	    if $path eq '/private';
	return resp('200 OK', "Cache-Control: max-age=2\r\n", "short\n") if $path eq '/short';
	return resp('200 OK', "Cache-Control: max-age=300\r\nETag: \"v1\"\r\n", $big)
	    if $path eq '/big';
	return resp('200 OK', "Cache-Control: max-age=300\r\n", "post done\n") if $m eq 'POST';
	return resp('200 OK', "Cache-Control: max-age=300\r\nTransfer-Encoding: chunked\r\n", '')
	    =~ s/Content-Length: 0\r\n//r . "5\r\nchunk\r\n6\r\ned bod\r\n1\r\ny\r\n0\r\n\r\n"
	    if $path eq '/chunked';
	if ($path eq '/etag') {
		return resp('304 Not Modified', "Cache-Control: max-age=2\r\nETag: \"e1\"\r\nX-Rev: $n\r\n", '')
		    =~ s/Content-Length: 0\r\n//r if $req =~ /^If-None-Match: "e1"\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=2\r\nETag: \"e1\"\r\nX-Rev: $n\r\n",
		    "etag body\n");
	}
	if ($path eq '/bigv') {
		my $lm = 'Sat, 01 Jan 2022 00:00:00 GMT';
		return resp('304 Not Modified', "Cache-Control: max-age=2\r\n", '') =~ s/Content-Length: 0\r\n//r
		    if $req =~ /^If-Modified-Since: \Q$lm\E\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=2\r\nLast-Modified: $lm\r\n", $big);
	}
	if ($path eq '/vary') {
		my ($lang) = $req =~ /^Accept-Language: (\S+)\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=300\r\nVary: Accept-Language\r\n",
		    'lang ' . ($lang // 'none') . "\n");
	}
	return resp('200 OK', "Cache-Control: max-age=300\r\n", substr($big, 0, 60000))
	    if $path eq '/inline60k';
	if ($path eq '/vary2') {
		my ($lang) = $req =~ /^Accept-Language: (\S+)\r$/mi;
		my ($enc) = $req =~ /^Accept-Encoding: (\S+)\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=300\r\nVary: Accept-Language\r\n" .
		    "Vary: Accept-Encoding\r\n", 'lang ' . ($lang // 'none') . ' enc ' . ($enc // 'none') . "\n");
	}
	if ($path eq '/cut') {
		return sub {
			my ($c) = @_;
			print $c "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\n" .
			    "Content-Length: 100000\r\n\r\n" . ('x' x 30000);
			sleep 0.2;
		};
	}
	return resp('404 Not Found', '', "no\n");
});

my $dir = tmpdir_keep();
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r;
my $v = start_viaduct(dir => $dir, conf => $conf);
my $port = $v->port;
my $op = $o->port;
my $base = "http://127.0.0.1:$op";

sub seen { my ($p) = @_; scalar grep { m{^(?:GET|HEAD) \Q$p\E HTTP} } $o->requests }
sub split_resp {
	my ($r) = @_;
	my ($h, $b) = split /\r\n\r\n/, $r, 2;
	return ($h // '', $b // '');
}
sub get { my ($path, %h) = @_; http_get($port, "$base$path", %h) }

my %lk = (successes => 0, expired => 0, 'not-found' => 0, 'no-expiration-info' => 0);
my %in = (successes => 0, denied => 0);

# --- a cacheable GET twice: the origin sees one ------------------------------
my $r1 = get('/fresh1');
my $r2 = get('/fresh1');
$lk{'not-found'}++; $in{successes}++; $lk{successes}++;
my ($h1, $b1) = split_resp($r1);
my ($h2, $b2) = split_resp($r2);
like($h1, qr{^HTTP/1\.1 200 }, 'first GET: 200 from the origin');
like($h2, qr{^HTTP/1\.1 200 }, 'second GET: 200');
is($b2, "fresh /fresh1\n", 'second GET: the stored body, byte for byte');
is($b2, $b1, 'both bodies identical');
is(seen('/fresh1'), 1, 'the origin saw the URL once');
like($h2, qr{^Age: \d+\r?$}m, 'the hit carries Age (RFC 9111 §5.1)');
unlike($h1, qr{^Age:}m, 'the miss carries no Age (the origin sent none)');
like($h2, qr{^Content-Length: 14\r?$}m, 'the hit has its Content-Length');
like($h2, qr{^Content-Type: text/plain\r?$}m, 'stored fields are sent');
like($h2, qr{^Cache-Control: max-age=300\r?$}m, 'Cache-Control kept');
like($h2, qr{^Via: 1\.1 }m, 'the hit carries our Via');
is(scalar(() = $h2 =~ /^Date:/mg), 1, 'Date once, as the origin sent it');

# --- HEAD after GET: from the cache -------------------------------------------
my $rh = http_raw($port, "HEAD $base/fresh1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$lk{successes}++;
like($rh, qr{^HTTP/1\.1 200 }, 'HEAD: 200');
like($rh, qr{^Content-Length: 14\r?$}m, 'HEAD: the GET\'s Content-Length');
like($rh, qr{\r\n\r\n\z}, 'HEAD: no body');
is(seen('/fresh1'), 1, 'HEAD was answered from the stored GET');

# --- keep-alive: a hit, then a miss on one connection -------------------------
my $ka = http_raw($port, "GET $base/fresh1 HTTP/1.1\r\nHost: x\r\n\r\n" .
    "GET $base/fresh2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
$lk{successes}++; $lk{'not-found'}++; $in{successes}++;
is(scalar(() = $ka =~ m{^HTTP/1\.1 200 }mg), 2, 'keep-alive: two responses');
like($ka, qr{fresh /fresh1\n.*fresh /fresh2\n}s, 'keep-alive: hit then miss, in order');
is(seen('/fresh2'), 1, 'keep-alive: the miss went to the origin');

# --- no-store and private: never stored ---------------------------------------
for my $p ('/nostore', '/private') {
	my ($ha, $ba) = split_resp(get($p));
	my ($hb, $bb) = split_resp(get($p));
	$lk{'not-found'} += 2;	# HTTP forbids storing: no insert (denied is the cache list's)
	isnt($ba, $bb, "$p: two different answers");
	is(seen($p), 2, "$p: the origin saw both requests");
	unlike($hb, qr{^Age:}m, "$p: the second answer is not a hit");
}

# --- max-age=2 (not 1: ages are whole seconds): stale after 3 s, fetched again ---
get('/short');
get('/short');
$lk{'not-found'}++; $in{successes}++; $lk{successes}++;
is(seen('/short'), 1, 'max-age=2: fresh at first');
sleep 3.2;
my ($hs) = split_resp(get('/short'));
$lk{expired}++; $in{successes}++;
like($hs, qr{^HTTP/1\.1 200 }, 'stale: 200');
is(seen('/short'), 2, 'stale: the origin saw it again');
get('/short');
$lk{successes}++;
is(seen('/short'), 2, 'the refetched object is fresh in the cache');

# --- request no-cache / Pragma / max-age=0: to the origin -----------------------
get('/fresh1', headers => "Cache-Control: no-cache\r\n");
$lk{expired}++; $in{successes}++;
is(seen('/fresh1'), 2, 'request Cache-Control: no-cache goes to the origin');
get('/fresh1', headers => "Pragma: no-cache\r\n");
$lk{expired}++; $in{successes}++;
is(seen('/fresh1'), 3, 'request Pragma: no-cache goes to the origin');
sleep 1.1;	# RFC 9111 §5.2.1.1: an age of 0 would still satisfy max-age=0
get('/fresh1', headers => "Cache-Control: max-age=0\r\n");
$lk{expired}++; $in{successes}++;
is(seen('/fresh1'), 4, 'request max-age=0 goes to the origin');
get('/fresh1');
$lk{successes}++;
is(seen('/fresh1'), 4, 'and the object is served from the cache again');

# --- request no-store: not stored -------------------------------------------------
get('/fresh3', headers => "Cache-Control: no-store\r\n");
get('/fresh3');
$lk{'not-found'} += 2; $in{successes}++;
is(seen('/fresh3'), 2, 'request no-store: the response was not stored');

# --- only-if-cached ------------------------------------------------------------
my $r504 = get('/fresh4', headers => "Cache-Control: only-if-cached\r\n");
$lk{'not-found'}++;
like($r504, qr{^HTTP/1\.1 504 }, 'only-if-cached on a miss: 504');
is(seen('/fresh4'), 0, 'only-if-cached: nothing sent to the origin');
my ($hoc, $boc) = split_resp(get('/fresh1', headers => "Cache-Control: only-if-cached\r\n"));
$lk{successes}++;
is($boc, "fresh /fresh1\n", 'only-if-cached on a hit: served');

# --- client conditional answered from the cache ---------------------------------
get('/big');
$lk{'not-found'}++; $in{successes}++;
my ($h304) = split_resp(get('/big', headers => "If-None-Match: \"v1\"\r\n"));
$lk{successes}++;
like($h304, qr{^HTTP/1\.1 304 }, 'If-None-Match matching the stored ETag: 304 from the cache');
is(seen('/big'), 1, 'the 304 did not ask the origin');

# --- 1 MiB: a body file, sendfile ---------------------------------------------------
my ($hb, $bb) = split_resp(get('/big', timeout => 10));
$lk{successes}++;
like($hb, qr{^Age: }m, '1 MiB: a hit');
is(length $bb, length $big, '1 MiB: the whole body');
ok($bb eq $big, '1 MiB: byte-exact');
is(seen('/big'), 1, '1 MiB: the origin saw it once');
my @files = glob("$dir/cache/bodies/*/*");
ok(scalar(grep { -s $_ == length $big } @files), '1 MiB: stored as a body file');

# --- chunked from the origin: stored de-chunked --------------------------------------
my (undef, $bc1) = split_resp(get('/chunked'));
my ($hc2, $bc2) = split_resp(get('/chunked'));
$lk{'not-found'}++; $in{successes}++; $lk{successes}++;
is(seen('/chunked'), 1, 'chunked: stored');
is($bc2, 'chunked body', 'chunked: served with its data');
like($hc2, qr{^Content-Length: 12\r?$}m, 'chunked: served with a Content-Length');

# --- POST invalidates -----------------------------------------------------------------
my $rp = http_raw($port, "POST $base/fresh2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" .
    "Connection: close\r\n\r\nabc");
like($rp, qr{^HTTP/1\.1 200 }, 'POST: forwarded');
get('/fresh2');
$lk{'not-found'}++; $in{successes}++;
is(seen('/fresh2'), 2, 'POST invalidated the stored GET');

# --- origin closes mid-body: nothing stored ---------------------------------------------
my $rc = get('/cut', timeout => 3);
my $rc2 = get('/cut', timeout => 3);
$lk{'not-found'} += 2;
like($rc, qr{^HTTP/1\.1 200 }, 'cut: the head was relayed');
is(seen('/cut'), 2, 'cut: nothing stored, the second request went to the origin');
ok(!grep({ -s $_ >= 30000 && -s $_ != length $big } glob("$dir/cache/bodies/*/*")),
    'cut: no body file left behind');
ok(!glob("$dir/cache/bodies/tmp/*"), 'cut: no temporary file left behind');

# --- stale with validators: a conditional request, 304 refreshes the object ------------
sub req_of { my ($p) = @_; (grep { m{^GET \Q$p\E HTTP} } $o->requests)[-1] // '' }
my (undef, $be1) = split_resp(get('/etag'));
$lk{'not-found'}++; $in{successes}++;
my (undef, $bv1) = split_resp(get('/bigv', timeout => 10));
$lk{'not-found'}++; $in{successes}++;
sleep 3.2;
my ($he2, $be2) = split_resp(get('/etag'));
$lk{expired}++; $in{successes}++;	# the 304 stores the refreshed object: an insert
is(seen('/etag'), 2, 'stale: the origin was asked again');
like(req_of('/etag'), qr{^If-None-Match: "e1"\r$}m, 'stale: with the stored ETag (If-None-Match)');
like($he2, qr{^HTTP/1\.1 200 }, '304 from the origin: the client gets the full 200');
is($be2, "etag body\n", '304: the stored body');
like($he2, qr{^X-Rev: \d+\r?$}m, '304: its fields update the stored ones');
my ($rev) = $he2 =~ /^X-Rev: (\d+)/m;
my ($he3, $be3) = split_resp(get('/etag'));
$lk{successes}++;
is(seen('/etag'), 2, 'after the 304 the object is fresh again: a hit');
like($he3, qr{^X-Rev: $rev\r?$}m, 'the hit carries the updated field');
like($he3, qr{^Age: }m, 'the hit has Age');
my ($hv2, $bv2) = split_resp(get('/bigv', timeout => 10));
$lk{expired}++; $in{successes}++;
like(req_of('/bigv'), qr{^If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT\r$}m,
    'stale body file: revalidated with If-Modified-Since');
ok($bv2 eq $big, '304 on a body file: the client gets the stored 1 MiB, byte-exact');
my (undef, $bv3) = split_resp(get('/bigv', timeout => 10));
$lk{successes}++;
is(seen('/bigv'), 2, 'the refreshed body file is a hit');
ok($bv3 eq $big, 'and byte-exact');

# --- Vary: two variants ---------------------------------------------------------------
my %vb;
for my $l (qw(en fr en fr)) {
	my (undef, $b) = split_resp(get('/vary', headers => "Accept-Language: $l\r\n"));
	push @{ $vb{$l} }, $b;
}
$lk{'not-found'} += 2; $in{successes} += 2; $lk{successes} += 2;
is(seen('/vary'), 2, 'Vary: one origin request per variant');
is_deeply($vb{en}, [ "lang en\n", "lang en\n" ], 'Vary: the en variant both times');
is_deeply($vb{fr}, [ "lang fr\n", "lang fr\n" ], 'Vary: the fr variant both times');
# RFC 9111 §4.1: language ranges are case-insensitive, so EN is the en variant
# (found by cache-tests.fyi, vary-normalise-lang-case)
my (undef, $bEN) = split_resp(get('/vary', headers => "Accept-Language: EN\r\n"));
$lk{successes}++;
is($bEN, "lang en\n", 'Vary: Accept-Language: EN selects the en variant');
is(seen('/vary'), 2, 'Vary: ... from the cache');

# --- Vary on two field lines: one list (RFC 9110 §5.3), stored, both fields select ---
my %v2;
for my $e (qw(gzip br gzip br)) {
	my (undef, $b) = split_resp(get('/vary2', headers => "Accept-Language: en\r\nAccept-Encoding: $e\r\n"));
	push @{ $v2{$e} }, $b;
}
$lk{'not-found'} += 2; $in{successes} += 2; $lk{successes} += 2;
is(seen('/vary2'), 2, 'two Vary lines: stored, one origin request per variant');
is_deeply($v2{gzip}, [ "lang en enc gzip\n", "lang en enc gzip\n" ], 'two Vary lines: the gzip variant');
is_deeply($v2{br}, [ "lang en enc br\n", "lang en enc br\n" ], 'two Vary lines: the br variant');
my (undef, $bv2fr) = split_resp(get('/vary2', headers => "Accept-Language: fr\r\nAccept-Encoding: br\r\n"));
$lk{'not-found'}++; $in{successes}++;
is($bv2fr, "lang fr enc br\n", 'two Vary lines: the first line\'s field selects too');
is(seen('/vary2'), 3, 'two Vary lines: another language is another variant');
my (undef, $bGZ) = split_resp(get('/vary2', headers => "Accept-Language: En\r\nAccept-Encoding: GZIP\r\n"));
$lk{successes}++;
is($bGZ, "lang en enc gzip\n", 'Vary: content-codings and languages compared case-insensitively');
is(seen('/vary2'), 3, 'Vary: ... from the cache');

# --- a conditional request for an object with no validator: answered from the
# cache (200), counted as RouterOS's lookups no-expiration-info ---------------------
my ($hnx) = split_resp(get('/fresh1', headers => "If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT\r\n"));
$lk{'no-expiration-info'}++;
like($hnx, qr{^HTTP/1\.1 (200|304) .*\r\nAge: }s, 'conditional, no validator stored: from the cache');

# --- the access log says what the cache did --------------------------------------------
ok(wait_until(sub { (slurp("$dir/access.log") // '') =~ /TCP_REFRESH_UNMODIFIED/ }),
    'access log: the 304 refresh is TCP_REFRESH_UNMODIFIED');
my $al = slurp("$dir/access.log") // '';
like($al, qr{ TCP_HIT/200 \d+ GET \Q$base\E/fresh1 - HIER_NONE/- text/plain$}m,
    'access log: a hit is TCP_HIT/200, HIER_NONE, with the stored Content-Type');
like($al, qr{ TCP_REFRESH_UNMODIFIED/200 \d+ GET \S+ - HIER_DIRECT/127\.0\.0\.1 }m,
    'access log: a refresh went to the origin (HIER_DIRECT, as Squid writes it)');
like($al, qr{ TCP_IMS_HIT/304 \d+ GET \Q$base\E/big }, 'access log: a 304 from the cache is TCP_IMS_HIT');
like($al, qr{ TCP_MISS/200 \d+ GET \Q$base\E/fresh2 }, 'access log: a miss is TCP_MISS/200');

# --- the counters ----------------------------------------------------------------------
sub counters {
	my ($what) = @_;
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, $what]);
	is($st, 0, "viaductctl $what");
	my %c = $out =~ /^\s*([a-z-]+)\s*:?\s+(\d+)\s*$/mg;
	return \%c;
}
my $l = counters('lookups');
is($l->{$_} // -1, $lk{$_}, "lookups $_ = $lk{$_}") for sort keys %lk;
my $i = counters('inserts');
is($i->{$_} // -1, $in{$_}, "inserts $_ = $in{$_}") for sort keys %in;

# --- restart warm ----------------------------------------------------------------------
is($v->stop, 0, 'viaduct stops cleanly');
undef $v;
$v = start_viaduct(dir => $dir, conf => $conf, port => $port);
my ($hw, $bw) = split_resp(get('/fresh1'));
like($hw, qr{^Age: }m, 'after a restart: the first request is a hit');
is($bw, "fresh /fresh1\n", 'after a restart: the stored body');
is(seen('/fresh1'), 4, 'after a restart: the origin was not asked');
my ($hw2, $bw2) = split_resp(get('/big', timeout => 10));
ok($bw2 eq $big, 'after a restart: the 1 MiB body file is served byte-exact');


# --- cache-on-disk=no, max-fresh-time, always-from-cache, max-cache-object-size ---------
undef $v;
{
	my $d2 = tmpdir_keep();
	my $c2 = default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=10MiB max-cache-object-size=64KiB max-fresh-time=2s always-from-cache=yes}r =~ s/log-level=info/log-level=debug/r;
	my $w = start_viaduct(dir => $d2, conf => $c2);
	my $wp = $w->port;
	my $g = sub { my ($path, %h) = @_; http_get($wp, "$base$path", %h) };
	my $before = seen('/fresh5');
	$g->('/fresh5');
	my ($hf, $bf) = split_resp($g->('/fresh5', headers => "Cache-Control: no-cache\r\n"));
	is(seen('/fresh5') - $before, 1, 'always-from-cache=yes: a fresh object wins over no-cache');
	like($hf, qr{^Age: }m, 'always-from-cache=yes: a hit');
	ok(-e "$d2/run/cache/data.mdb", 'cache-on-disk=no: the store is under run-dir');
	ok(!-e "$d2/cache/data.mdb", 'cache-on-disk=no: nothing under cache-path');
	sleep 3.2;
	$g->('/fresh5');
	is(seen('/fresh5') - $before, 2, 'max-fresh-time=2s caps max-age=300: stale after 3 s');
	$before = seen('/big');
	my (undef, $bb1) = split_resp($g->('/big', timeout => 10));
	my (undef, $bb2) = split_resp($g->('/big', timeout => 10));
	ok($bb1 eq $big && $bb2 eq $big, 'max-cache-object-size: the large body still passes through');
	is(seen('/big') - $before, 2, 'max-cache-object-size=64KiB: 1 MiB is not stored');

	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $w->{conf}, 'inserts']);
	my %c = $out =~ /^\s*([a-z-]+)\s*:?\s+(\d+)\s*$/mg;
	is($c{'too-large'} // -1, 2, 'inserts too-large counts both');
	is($c{successes} // -1, 2, 'inserts successes: /fresh5 twice');

	# a slow client on an inline hit: the read txn is reset while it is
	# blocked, and the object found again when it can take more (pitfall 5)
	$g->('/inline60k');
	# a small receive window, set before connect so that it is what we offer
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048) or die "SO_RCVBUF: $!";
	connect($s, sockaddr_in($wp, inet_aton('127.0.0.1'))) or die "connect: $!";
	$s->autoflush(1);
	# pipelined, so that the socket buffers fill whatever their size
	print $s "GET $base/inline60k HTTP/1.1\r\nHost: x\r\n\r\n" x 59,
	    "GET $base/inline60k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	my $slow = '';
	sleep 0.3;
	while (1) {
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		last unless select(my $rout = $rin, undef, undef, 5) > 0;
		my $k = sysread($s, $slow, 1024, length $slow);
		last unless $k;
		sleep 0.0005;
	}
	close $s;
	my @parts = split /^(?=HTTP\/1\.1 )/m, $slow;
	is(scalar @parts, 60, 'slow client: 60 responses');
	# (max-fresh-time=2s here: a slow enough reader may see a refetch too)
	is(scalar(grep { /\AHTTP\/1\.1 200 .*\r\n\r\n\Q@{[substr($big, 0, 60000)]}\E\z/s } @parts),
	    60, 'slow client: every response has the 60000-byte inline body, byte-exact');
	ok(scalar(grep { /^Age: /m } @parts) >= 1, 'slow client: hits among them');
	like(slurp("$d2/error.log") // '', qr/cache: hit resumed at [1-9]\d* of 60000/,
	    'slow client: the hit went on after the txn was reset');

}

done_testing();
