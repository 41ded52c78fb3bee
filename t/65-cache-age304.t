#!/usr/bin/perl
# Found by the cache-tests.fyi suite (t/90-cache-tests.t).  RFC 9111 §5.1:
# an Age field that is a list ("7200, 0", or two lines) counts by its first
# member, and an invalid first member makes the field ignored.  §3.2 /
# §4.3.4: a 304 refreshes the stored fields, except the ETag that selected
# it and the fields describing the stored body (Content-MD5 here); a 304
# that names another strong ETag updates nothing, and the request is sent
# again without the cache's validators.
# RFC 9110 §6.6.1: a response forwarded or stored without Date gets the
# time it was received, and a 304 without Date refreshes the stored one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Time::Local qw(timegm);
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
sub resp {
	my ($status, $hdr, $body) = @_;
	return "HTTP/1.1 $status\r\nDate: " . date() . "\r\n$hdr" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

my %age = (
	'/age-list'   => "Age: 7200, 0\r\n",	# first member 7200: stale at once
	'/age-lines'  => "Age: 7200\r\nAge: 0\r\n",
	'/age-first0' => "Age: 0\r\nAge: 7200\r\n",	# first member 0: fresh
	'/age-bad'    => "Age: abc\r\n",		# invalid: ignored, fresh
	'/age-neg'    => "Age: -7200\r\n",
);
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	return resp('200 OK', "Cache-Control: max-age=3600\r\n$age{$path}", "age $path\n")
	    if $age{$path};
	if ($path eq '/r304') {
		# the 304 carries another digest: it may not replace what
		# describes the body we hold; X-Rev does
		return resp('304 Not Modified', "Cache-Control: max-age=300\r\nETag: \"a\"\r\n" .
		    "Content-MD5: BBBB\r\nX-Rev: 2\r\n", '') =~ s/Content-Length: 0\r\n//r
		    if $req =~ /^If-None-Match: "a"\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=0\r\nETag: \"a\"\r\n" .
		    "Content-MD5: AAAA\r\nX-Rev: 1\r\n", "r304 body\n");
	}
	if ($path eq '/r304b') {
		# a 304 that names another strong tag than the one asked about
		return resp('304 Not Modified', "Cache-Control: max-age=300\r\nETag: \"b\"\r\nX-Rev: 2\r\n", '')
		    =~ s/Content-Length: 0\r\n//r if $req =~ /^If-None-Match: "a"\r$/mi;
		my $first = $req =~ /^X-Step: 1\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=0\r\nETag: \"a\"\r\nX-Rev: 1\r\n", "r304b one\n")
		    if $first;
		return resp('200 OK', "Cache-Control: max-age=300\r\nETag: \"b\"\r\nX-Rev: 3\r\n", "r304b two\n");
	}
	if ($path =~ m{^/weak(\d)$}) {
		# 1: the 304 names another weak tag; 2: the same weak tag;
		# 3: no ETag, a 304 with another Last-Modified than the stored one
		my $k = $1;
		my ($lm1, $lm2) = ('Sat, 01 Jan 2022 00:00:00 GMT', 'Sun, 02 Jan 2022 00:00:00 GMT');
		my $val1 = $k == 3 ? "Last-Modified: $lm1\r\n" : "ETag: W/\"v1\"\r\n";
		if ($req =~ /^If-None-Match: W\/"v1"\r$/mi || $req =~ /^If-Modified-Since: \Q$lm1\E\r$/mi) {
			my $val = $k == 1 ? "ETag: W/\"v2\"\r\n" : $k == 2 ? "ETag: W/\"v1\"\r\n" :
			    "Last-Modified: $lm2\r\n";
			return resp('304 Not Modified', "Cache-Control: max-age=300\r\n${val}X-Rev: 2\r\n", '')
			    =~ s/Content-Length: 0\r\n//r;
		}
		return resp('200 OK', "Cache-Control: max-age=0\r\n${val1}X-Rev: 1\r\n", "weak$k one\n")
		    if $req =~ /^X-Step: 1\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=300\r\nETag: W/\"v3\"\r\nX-Rev: 3\r\n", "weak$k two\n");
	}
	return resp('203 Non-Authoritative Information', "Cache-Control: max-age=300\r\nETag: \"t\"\r\n",
	    "s203\n") if $path eq '/s203';
	return "HTTP/1.1 204 No Content\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\n\r\n"
	    if $path eq '/s204';
	return "HTTP/1.0 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\nContent-Length: 4\r\n\r\nv10\n"
	    if $path eq '/v10';
	if ($path eq '/nodate') {		# an origin without a clock
		return "HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=300\r\nETag: \"n\"\r\n\r\n"
		    if $req =~ /^If-None-Match: "n"\r$/mi;
		return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3\r\nETag: \"n\"\r\n" .
		    "Content-Length: 7\r\n\r\nnodate\n";
	}
	return resp('404 Not Found', '', "no\n");
});
my $op = $o->port;
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r;
my $v = start_viaduct(conf => $conf);
my $port = $v->port;

sub get { http_get($port, "http://127.0.0.1:$op$_[0]") // '' }
sub seen { my ($p) = @_; scalar grep { m{^GET \Q$p\E } } $o->requests }
sub body { my ($r) = @_; $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }

for my $p (sort keys %age) {
	my $r1 = get($p);
	like($r1, qr{\AHTTP/1\.1 200 OK\r\n}, "$p: first answer");
	my $r2 = get($p);
	is(body($r2), "age $p\n", "$p: second answer's body");
	my $want = $p =~ /list|lines/ ? 2 : 1;
	is(seen($p), $want, $want == 2 ? "$p: the first Age member (7200) is past max-age: fetched again" :
	    "$p: fresh by the first valid Age member, or an ignored one: a hit");
	if ($want == 1) {
		my ($a) = $r2 =~ /^Age: (\d+)\r$/m;
		ok(defined $a && $a < 3600, "$p: the hit's Age counts only the first member (" .
		    ($a // 'none') . ')');
		unlike($r2, qr/^Age: .*,/m, "$p: one Age value on the hit");
	}
}

my $r = get('/r304');
like($r, qr{^ETag: "a"\r\n.*^Content-MD5: AAAA\r\n.*^X-Rev: 1\r\n}ms, 'r304: first answer');
$r = get('/r304');
is(seen('/r304'), 2, 'r304: max-age=0 -> revalidated');
like($r, qr{\AHTTP/1\.1 200 OK\r\n}, 'r304: the client, who asked without conditionals, gets 200');
like($r, qr{^ETag: "a"\r$}m, 'r304: the stored ETag stays (it selected the 304)');
unlike($r, qr{^ETag: "b"}m, 'r304: ... and the 304\'s other tag is not taken');
like($r, qr{^Content-MD5: AAAA\r$}m, 'r304: Content-MD5 describes the stored body: kept');
like($r, qr{^X-Rev: 2\r$}m, 'r304: other fields are refreshed');
is(body($r), "r304 body\n", 'r304: stored body');
$r = get('/r304');
is(seen('/r304'), 2, 'r304: fresh for 300 s now: a hit');
like($r, qr{^ETag: "a"\r\n.*^Content-MD5: AAAA\r\n.*^X-Rev: 2\r\n}ms,
    'r304: the stored object has the merged fields');
# RFC 9111 §4.3.4: a 304 whose strong validator is not the stored one's
# updates nothing, and the stale object is not served unvalidated: the
# request goes again without the cache's validators
my $step = sub { http_raw($port, "GET http://127.0.0.1:$op/r304b HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
    "X-Step: $_[0]\r\nConnection: close\r\n\r\n") // '' };
$r = $step->(1);
like($r, qr{^X-Rev: 1\r\n.*\r\n\r\nr304b one\n\z}ms, 'r304b: first answer stored (max-age=0)');
$r = $step->(2);
my @r304b = grep { m{^GET /r304b } } $o->requests;
is(scalar @r304b, 3, 'r304b: conditional, its 304 names "b", then the request again');
like($r304b[1] // '', qr{^If-None-Match: "a"\r$}m, 'r304b: the revalidation asked about "a"');
unlike($r304b[2] // '', qr{^If-None-Match:}mi, 'r304b: the request again carries no validator of ours');
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*^ETag: "b"\r\n.*^X-Rev: 3\r\n.*\r\n\r\nr304b two\n\z}ms,
    'r304b: the client gets the full new response, not the stale one with the 304\'s fields');
$r = $step->(3);
is(scalar(grep { m{^GET /r304b } } $o->requests), 3, 'r304b: the new response was stored (max-age=300): a hit');
like($r, qr{\r\n\r\nr304b two\n\z}, 'r304b: ... with its body');

# §4.3.4 with weak validators: a 304 updates a stored response only if its
# weak tag or Last-Modified corresponds to the stored one's
for my $t ([ 1, 3, "r304 weak: another weak tag: nothing updated, the request again", "weak1 two\n", 3 ],
	   [ 2, 2, "r304 weak: the same weak tag: the stored response refreshed", "weak2 one\n", 2 ],
	   [ 3, 3, "r304 Last-Modified: another date: nothing updated, the request again", "weak3 two\n", 3 ]) {
	my ($k, $n, $name, $body, $rev) = @$t;
	my $w = sub { http_raw($port, "GET http://127.0.0.1:$op/weak$k HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    "X-Step: $_[0]\r\nConnection: close\r\n\r\n") // '' };
	$w->(1);
	$r = $w->(2);
	is(scalar(grep { m{^GET /weak$k } } $o->requests), $n, "$name: $n origin requests");
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*^X-Rev: $rev\r\n.*\r\n\r\n\Q$body\E\z}ms, "$name: the client's answer");
}

# the client's own conditional is evaluated against the kept tag
$r = http_raw($port, "GET http://127.0.0.1:$op/r304 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
    "If-None-Match: \"a\"\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 304 }, 'r304: If-None-Match with the kept tag -> 304 from the cache');

# --- RFC 9110 §9.1, RFC 9111 §4: methods are case-sensitive; a stored GET
# answers neither "get" nor "head" (extension methods, for the origin)
for my $m ('get', 'head') {
	my $req = "$m http://127.0.0.1:$op/age-bad HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n";
	$r = http_raw($port, $req);
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nage /age-bad\n\z}s, "\"$m\": the origin's answer, with its body");
	is(scalar(grep { m{^\Q$m\E /age-bad } } $o->requests), 1, "\"$m\": not answered from the stored GET");
}

# --- RFC 9110 §13.2.1: a client's conditional is answered from any stored 2xx
get('/s203');
$r = http_raw($port, "GET http://127.0.0.1:$op/s203 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
    "If-None-Match: \"t\"\r\nConnection: close\r\n\r\n") // '';
like($r, qr{\AHTTP/1\.1 304 Not Modified\r\n.*^ETag: "t"\r$}ms, 'a stored 203 and a matching If-None-Match: 304');
is(seen('/s203'), 1, '... from the cache');
$r = http_raw($port, "GET http://127.0.0.1:$op/s203 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
    "If-None-Match: \"u\"\r\nConnection: close\r\n\r\n") // '';
like($r, qr{\AHTTP/1\.1 203 Non-Authoritative Information\r\n.*\r\n\r\ns203\n\z}s,
    'another tag: the stored 203 itself');

# --- RFC 9110 §8.6: a stored 204 is served without Content-Length
get('/s204');
$r = http_raw($port, "GET http://127.0.0.1:$op/s204 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n" .
    "GET http://127.0.0.1:$op/s203 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n") // '';
like($r, qr{\AHTTP/1\.1 204 No Content\r\n(?:(?!Content-Length)[^\r\n]+\r\n)*\r\nHTTP/1\.1 203 }s,
    'a 204 hit: no Content-Length, and the next response follows at once');
like($r, qr{^Age: \d+\r$}m, '... from the cache');
is(seen('/s204'), 1, '... the origin asked once');

# --- RFC 9110 §7.6.3: Via names the version the stored response came in
$r = get('/v10');
like($r, qr{^Via: 1\.0 }m, 'a 1.0 origin\'s response: Via 1.0');
$r = get('/v10');
like($r, qr{^Age: \d+\r\nVia: 1\.0 }m, '... and on its hits too');
is(seen('/v10'), 1, '... which are hits');

# --- RFC 9110 §6.6.1: no Date from the origin
my %mon = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5,
    Jul => 6, Aug => 7, Sep => 8, Oct => 9, Nov => 10, Dec => 11);
sub str2time {
	my ($d, $mo, $y, $h, $mi, $s) = ($_[0] // '') =~
	    /\A[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT\z/ or return undef;
	return timegm($s, $mi, $h, $d, $mon{$mo}, $y);
}
sub dates { my @d = $_[0] =~ /^Date: ([^\r\n]*)\r$/mg; @d }
my $t0 = time;
$r = get('/nodate');
my @d1 = dates($r);
is(scalar @d1, 1, 'nodate: the forwarded response has one Date');
my $e1 = str2time($d1[0] // '') // 0;
ok($e1 >= $t0 - 1 && $e1 <= time + 1, "nodate: an IMF-fixdate of the time it came ($d1[0])");
sleep 0.4;
$r = get('/nodate');
is(seen('/nodate'), 1, 'nodate: stored, a hit');
is_deeply([ dates($r) ], \@d1, 'nodate: the hit carries the Date stored with it, not the time of the hit');
sleep 0.5 while time < $e1 + 4;		# max-age=3: stale
$r = get('/nodate');
is(seen('/nodate'), 2, 'nodate: stale, revalidated');
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nnodate\n\z}s, 'nodate: the 304 refreshed the stored object');
my @d2 = dates($r);
ok(@d2 == 1 && (str2time($d2[0]) // 0) >= $e1 + 4, "nodate: its Date is the 304's time ($d2[0])");
$r = get('/nodate');
is(seen('/nodate'), 2, 'nodate: fresh for 300 s from the 304: a hit (its age counts from the new Date)');
like($r, qr{^Age: [01]\r$}m, 'nodate: ... of age 0 or 1');

done_testing();
