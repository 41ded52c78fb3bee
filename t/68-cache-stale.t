#!/usr/bin/perl
# Stale objects and RFC 5861 (issue 6).  stale-if-error: when revalidating
# or refetching a stale object fails (500/502/503/504 from the origin, the
# origin closing without an answer, refusing connections, or not answering
# within response-timeout) and the object is inside its stale-if-error
# window (response directive, or the request's), the stored object answers
# instead of the error; outside the window, without the directive, or with
# must-revalidate the error goes through.  stale-while-revalidate: inside
# the window the client gets the stale object at once and the origin then
# sees exactly one conditional request, after which the object is fresh.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;
use Viaduct::DNS;
use IO::Socket::INET;

my $dir = tmpdir_keep();
my $modef = "$dir/origin-mode";		# what the origin does now: ok, 500, ..., close, hang
spew($modef, 'ok');
my $big = join('', map { sprintf("%07d\n", $_) } 0 .. 131071);	# 1 MiB: a body file

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
sub resp {
	my ($status, $hdr, $body) = @_;
	return "HTTP/1.1 $status\r\nDate: " . date() . "\r\n$hdr" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

my %cc = (
	'/sie'     => 'max-age=1, stale-if-error=60',
	'/sie2'    => 'max-age=1, stale-if-error=60',
	'/nosie'   => 'max-age=1',
	'/edge'    => 'max-age=1, stale-if-error=2',
	'/mustrev' => 'max-age=1, must-revalidate, stale-if-error=60',
	'/nocache' => 'no-cache, max-age=600, stale-if-error=600',
	'/bigsie'  => 'max-age=1, stale-if-error=60',
	'/noval'   => 'max-age=1, stale-if-error=60',
);
my %swr = (
	'/swr'      => 'max-age=1, stale-while-revalidate=30',
	'/swr-new'  => 'max-age=1, stale-while-revalidate=30',
	'/swr-past' => 'max-age=1, stale-while-revalidate=1',
);
# stale-while-revalidate objects: the origin takes a second over a
# conditional request and leaves a mark once it has answered
sub swr_handler {
	my ($req, $path) = @_;
	(my $mark = "$dir/answered$path") =~ s{/swr}{-swr};
	my $rev = 1 + scalar(() = (slurp("$dir/revs$path" =~ s{/swr}{-swr}r) // '') =~ /x/g);
	open(my $fh, '>>', "$dir/revs$path" =~ s{/swr}{-swr}r) or die; print $fh 'x'; close $fh;
	my $h = "Cache-Control: $swr{$path}\r\nETag: \"$path\"\r\nX-Rev: $rev\r\n";
	if ($req =~ /^If-None-Match: /mi) {
		sleep 1;
		spew($mark, $rev);
		# fresh for a minute now: the second's delay counts in its age
		# (RFC 9111 §4.2.3 response_delay)
		$h =~ s/max-age=1,/max-age=60,/;
		return resp('200 OK', "Cache-Control: max-age=60\r\nETag: \"v2\"\r\n", "new body of $path\n")
		    if $path eq '/swr-new';
		return resp('304 Not Modified', $h, '') =~ s/Content-Length: 0\r\n//r;
	}
	return resp('200 OK', $h, "body of $path\n");
}
my $n = 0;
my $handler = sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $mode = slurp($modef) // 'ok';
	$n++;
	return swr_handler($req, $path) if $swr{$path};
	return undef if $mode eq 'close';
	if ($mode eq 'hang') { sleep 4; return undef }
	return resp("$mode Failed", "Cache-Control: no-store\r\n", "origin error $mode\n")
	    if $mode =~ /^\d+$/;
	my $cc = $cc{$path} // 'max-age=300';
	my $et = $path eq '/noval' ? '' : "ETag: \"$path\"\r\n";
	return resp('304 Not Modified', "Cache-Control: $cc\r\n$et", '') =~ s/Content-Length: 0\r\n//r
	    if $et ne '' && $req =~ /^If-None-Match: "\Q$path\E"\r$/mi;
	return resp('200 OK', "Cache-Control: $cc\r\n$et", $path eq '/bigsie' ? $big : "body of $path $n\n");
};
my $o = Viaduct::Origin->new(handler => $handler);
my $o2 = Viaduct::Origin->new(handler => $handler);	# stopped later: refuses connections

# names through a resolver that answers with a TTL of 1 s and is stopped
# later: an unresolvable origin
my $dns = Viaduct::DNS->new(ttl => 1, records => { 'sie.test' => { A => ['127.0.0.1'] } });
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r =~
    s{log-level=info}{log-level=info response-timeout=2s dns-servers=127.0.0.1:@{[ $dns->port ]}}r;
my $v = start_viaduct(dir => $dir, conf => $conf);
my $port = $v->port;
my $base = 'http://127.0.0.1:' . $o->port;
my $base2 = 'http://127.0.0.1:' . $o2->port;

sub seen { my ($oo, $p) = @_; scalar grep { m{^(?:GET|HEAD) \Q$p\E HTTP} } $oo->requests }
sub split_resp { my ($h, $b) = split /\r\n\r\n/, $_[0] // '', 2; ($h // '', $b // '') }
sub get {
	my ($url, $hdr) = @_;
	split_resp(http_get($port, $url, headers => $hdr // '', timeout => 10));
}
sub field { my ($h, $f) = @_; $h =~ /^\Q$f\E: ([^\r\n]*)\r?$/mi ? $1 : undef }
sub mode { spew($modef, $_[0]) }

# --- store, wait until stale ----------------------------------------------------------
my %first;
for my $p (grep { $_ ne '/edge' } sort keys %cc) {
	my (undef, $b) = get("$base$p");
	$first{$p} = $b;
}
my (undef, $bdown) = get("$base2/sie");
my $based = 'http://sie.test:' . $o->port;
my (undef, $bdns) = get("$based/sie");
is(seen($o, '/sie') + seen($o2, '/sie'), 3, 'stored: one origin request each');
sleep 2.2;

# --- 500 / 502 / 503 / 504 from the origin: the stale object ---------------------------
for my $st (500, 502, 503, 504) {
	mode($st);
	my $before = seen($o, '/sie');
	my ($h, $b) = get("$base/sie");
	like($h, qr{^HTTP/1\.1 200 }, "origin $st, stale-if-error=60: 200");
	is($b, $first{'/sie'}, "origin $st: the stored body");
	like(field($h, 'Age') // '', qr/^[2-9]$/, "origin $st: Age says how stale it is");
	is(seen($o, '/sie') - $before, 1, "origin $st: the origin was asked once");
	like((grep { m{^GET /sie } } $o->requests)[-1], qr{^If-None-Match: "/sie"\r$}m,
	    "origin $st: the request was conditional");
}
mode(404);
my ($h404) = get("$base/sie");
like($h404, qr{^HTTP/1\.1 404 }, 'a 404 is not a failure of the origin: relayed');

# --- the origin closes without answering ------------------------------------------------
mode('close');
my ($hc, $bc) = get("$base/sie");
like($hc, qr{^HTTP/1\.1 200 }, 'origin closes without an answer: 200 from the cache');
is($bc, $first{'/sie'}, 'origin closes: the stored body');

# --- no answer within response-timeout ----------------------------------------------------
mode('hang');
my $t0 = time;
my ($ht, $bt) = get("$base/sie2");
like($ht, qr{^HTTP/1\.1 200 }, 'origin silent past response-timeout: 200 from the cache');
is($bt, $first{'/sie2'}, 'origin silent: the stored body');

# --- a refused connection ---------------------------------------------------------------
mode('ok');
$o2->stop;
my ($hd, $bd) = get("$base2/sie");
like($hd, qr{^HTTP/1\.1 200 }, 'origin down (connection refused): 200 from the cache');
is($bd, $bdown, 'origin down: the stored body');
my ($hd2) = get("$base2/nosie");
like($hd2, qr{^HTTP/1\.1 502 }, 'origin down, nothing stored: 502');

# --- the name no longer resolves (the resolver is gone, the TTL has passed) ------------------
$dns->stop;
my ($hdn, $bdn) = get("$based/sie");
like($hdn, qr{^HTTP/1\.1 200 }, 'name not resolvable: 200 from the cache');
is($bdn, $bdns, 'name not resolvable: the stored body');
my ($hdn2) = get('http://gone.test:' . $o->port . '/nosie');
like($hdn2, qr{^HTTP/1\.1 504 }, 'a name never resolved, nothing stored: 504') or diag($hdn2);

# --- without stale-if-error, outside the window, must-revalidate: the error --------------
mode(503);
my ($hn, $bn) = get("$base/nosie");
like($hn, qr{^HTTP/1\.1 503 }, 'no stale-if-error: the origin\'s 503 goes through');
is($bn, "origin error 503\n", 'no stale-if-error: the origin\'s body');
my ($hr, $br) = get("$base/nosie", "Cache-Control: stale-if-error=60\r\n");
like($hr, qr{^HTTP/1\.1 200 }, 'request stale-if-error=60: the stale object');
is($br, $first{'/nosie'}, 'request stale-if-error: the stored body');
my ($hr0) = get("$base/nosie", "Cache-Control: stale-if-error=0\r\n");
like($hr0, qr{^HTTP/1\.1 503 }, 'request stale-if-error=0 on an object 1+ s stale: the error');
my ($hm) = get("$base/mustrev");
like($hm, qr{^HTTP/1\.1 503 }, 'must-revalidate wins over stale-if-error: the error');
# RFC 9111 §5.2.2.4, §4.2.4: a no-cache response is never used without a
# successful validation, fresh or within stale-if-error
my $nc0 = seen($o, '/nocache');
my ($hnc) = get("$base/nocache", "Cache-Control: max-stale\r\n");
like($hnc, qr{^HTTP/1\.1 503 }, 'no-cache (fresh, stale-if-error): the origin\'s error, not the stored object');
is(seen($o, '/nocache') - $nc0, 1, '... after one attempt at the origin');

# --- a body file, and Range on the stale object -------------------------------------------
my ($hb, $bb) = get("$base/bigsie");
like($hb, qr{^HTTP/1\.1 200 }, 'a stale body file on error: 200');
ok($bb eq $big, 'a stale body file on error: the 1 MiB, byte-exact');
my ($hg, $bg) = get("$base/sie", "Range: bytes=0-3\r\n");
like($hg, qr{^HTTP/1\.1 206 }, 'Range on a stale object on error: 206');
is($bg, substr($first{'/sie'}, 0, 4), 'Range on error: the bytes');

# --- no validators: a plain refetch fails, the stale object answers ------------------------
my ($hv, $bv) = get("$base/noval");
like($hv, qr{^HTTP/1\.1 200 }, 'no validators, refetch fails: 200 from the cache');
is($bv, $first{'/noval'}, 'no validators: the stored body');
unlike((grep { m{^GET /noval } } $o->requests)[-1], qr{^If-}m, 'no validators: unconditional');

# --- the window's edges: max-age=1, stale-if-error=2: servable while the age is at most 3 ---
mode('ok');
get("$base/edge");
sleep 2.2;
mode(503);
my ($he, $be) = get("$base/edge");
like($he, qr{^HTTP/1\.1 200 }, 'stale-if-error=2, within the window: 200');
like(field($he, 'Age') // '', qr/^[23]$/, 'within the window: Age 2 or 3');
sleep 2;	# age at least 4, staleness at least 3 > 2
my ($hx, $bx) = get("$base/edge");
like($hx, qr{^HTTP/1\.1 503 }, 'stale-if-error=2, past the window: the error');
is($bx, "origin error 503\n", 'past the window: the origin\'s body');

# --- the origin is back: a 304 refreshes, the next request is fresh --------------------------
mode('ok');
my $bsie = seen($o, '/sie');
my ($hk, $bk) = get("$base/sie");
like($hk, qr{^HTTP/1\.1 200 }, 'origin back: 200');
is($bk, $first{'/sie'}, 'origin back: 304, the stored body');
is(seen($o, '/sie') - $bsie, 1, 'origin back: one conditional request');

ok(wait_until(sub { (slurp("$dir/access.log") // '') =~ m{ TCP_REFRESH_FAIL_OLD/200 \d+ GET \Q$base\E/sie } }),
    'access log: stale-if-error is TCP_REFRESH_FAIL_OLD');

# --- stale-while-revalidate ----------------------------------------------------------------
sub requests_counter {
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor']);
	return $out =~ /^\s*requests:\s*(\d+)/m ? $1 : -1;
}
sub lookups {
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'lookups']);
	my %c = $out =~ /^\s*([a-z-]+)\s*:?\s+(\d+)\s*$/mg;
	return \%c;
}
sub conditional { my ($p) = @_; scalar grep { m{^GET \Q$p\E HTTP} && /^If-None-Match: /mi } $o->requests }
mode('ok');
for my $p (sort keys %swr) { get("$base$p") }
is(seen($o, $_), 1, "$_ stored") for sort keys %swr;
sleep 2.2;		# age 2: stale by 1 s, inside a window of 1 s or 30 s
my $req0 = requests_counter();
my $lk0 = lookups();

# one client request: the stale object at once, one conditional request behind
# it; all on one connection, so one worker (each worker runs its own)
my $cs = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
    or die "connect: $!";
$cs->autoflush(1);
my $csbuf = '';
sub read_one {		# one response framed by Content-Length
	my ($s) = @_;
	while ($csbuf !~ /\r\n\r\n/) { sysread($s, $csbuf, 65536, length $csbuf) or last }
	my ($h, $rest) = split /\r\n\r\n/, $csbuf, 2;
	my $len = field($h // '', 'Content-Length') // 0;
	$rest //= '';
	while (length($rest) < $len) { sysread($s, $rest, 65536, length $rest) or last }
	$csbuf = substr($rest, $len);
	return ($h // '', substr($rest, 0, $len));
}
print $cs "GET $base/swr HTTP/1.1\r\nHost: x\r\n\r\n";
my ($hs, $bs) = read_one($cs);
like($hs, qr{^HTTP/1\.1 200 }, 'stale-while-revalidate: 200');
is($bs, "body of /swr\n", 'stale-while-revalidate: the stale body');
ok(!-e "$dir/answered-swr", 'stale-while-revalidate: answered before the origin answered');
like(field($hs, 'Age') // '', qr/^[2-9]$/, 'stale-while-revalidate: its Age says it is stale');
is(field($hs, 'X-Rev'), 1, 'stale-while-revalidate: the stored fields');
# four more on that connection while the revalidation runs
print $cs "GET $base/swr HTTP/1.1\r\nHost: x\r\n\r\n" x 4;
my @more = map { [ read_one($cs) ] } 1 .. 4;
is(scalar(grep { $_->[0] =~ m{^HTTP/1\.1 200 } && $_->[1] eq "body of /swr\n" } @more), 4,
    'stale-while-revalidate: four more requests meanwhile, four stale answers');
ok(!-e "$dir/answered-swr", 'and all of them before the origin answered');
ok(wait_until(sub { -e "$dir/answered-swr" }), 'the origin answered the revalidation');
ok(wait_until(sub { (slurp("$dir/access.log") // '') =~ m{ TCP_REFRESH_UNMODIFIED/200 \d+ GET \Q$base\E/swr } }),
    'the background request refreshed the object (304)');
is(conditional('/swr'), 1, 'the origin saw exactly one conditional request');
is(seen($o, '/swr'), 2, 'and no other request');
like((grep { m{^GET /swr } } $o->requests)[-1], qr{^If-None-Match: "/swr"\r$}m,
    'the background request carries the stored ETag');
print $cs "GET $base/swr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
my ($hf, $bf) = read_one($cs);
close $cs;
like($hf, qr{^HTTP/1\.1 200 }, 'after the revalidation: 200');
is($bf, "body of /swr\n", 'after the revalidation: the body');
is(field($hf, 'X-Rev'), 2, 'after the revalidation: the 304\'s fields');
like(field($hf, 'Age') // '', qr/^[0-2]$/, 'after the revalidation: Age counts from the refresh');
like(field($hf, 'Cache-Control') // '', qr/max-age=60/, 'after the revalidation: the 304\'s Cache-Control');
is(seen($o, '/swr'), 2, 'after the revalidation: a hit, the origin was not asked');
is(requests_counter() - $req0, 6, 'requests counts the six client requests, not the background one');
my $lk1 = lookups();
is($lk1->{successes} - $lk0->{successes}, 6, 'lookups successes: the six client requests');
is($lk1->{expired} - $lk0->{expired}, 0, 'lookups expired: the background request is not a lookup');

# a 200 to the background request replaces the object
my ($hn2, $bn2) = get("$base/swr-new");
is($bn2, "body of /swr-new\n", 'revalidation answered 200: the client got the stale body');
ok(wait_until(sub { -e "$dir/answered-swr-new" }), 'the origin answered');
ok(wait_until(sub { my (undef, $b) = get("$base/swr-new"); $b eq "new body of /swr-new\n" }),
    'the new object replaced the stale one');
is(seen($o, '/swr-new'), 2, 'the origin saw the first request and the revalidation only');

# past the window: the client waits for the revalidation
sleep 1;		# /swr-past: age at least 3, stale by 2 > stale-while-revalidate=1
my ($hp, $bp) = get("$base/swr-past");
ok(-e "$dir/answered-swr-past", 'past the window: answered after the origin answered');
is(field($hp, 'X-Rev'), 2, 'past the window: the refreshed object');
is($bp, "body of /swr-past\n", 'past the window: the body');
is(conditional('/swr-past'), 1, 'past the window: one conditional request');

is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
