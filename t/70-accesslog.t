#!/usr/bin/perl
# The access log through the real binary: after a scripted sequence of
# requests (forwarded, origin 404, refused origin, denied, redirected, not a
# proxy request, unparsable, CONNECT, keep-alive pair), the log holds exactly one line
# per request with the expected fields, in every format; `viaductctl monitor
# --json` agrees with the counts; calamaris and GoAccess read the squid log
# and count the same requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ \S*?(/[^ ]*) };
	if ($path =~ m{^/missing}) {
		my $b = "no such thing\n";
		return "HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n" .
		    "Content-Length: " . length($b) . "\r\n\r\n$b";
	}
	my $b = "hello $path\n";
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .
	    length($b) . "\r\n\r\n$b";
});
my $op = $origin->port;
my $refused = free_port();	# nobody listens there

sub conf_for {
	my ($fmt) = @_;
	return <<"CONF";
/ip proxy
set enabled=yes port=\@PORT\@ cache-path=\@DIR\@/cache
/ip proxy access
add dst-host=blocked.test action=deny
add path=*.mp3 action=deny redirect-to=http://intranet.example/blocked.html
/viaduct
set workers=2 listen-address=127.0.0.1 pid-file=\@DIR\@/viaduct.pid run-dir=\@DIR\@/run \\
    error-log=\@DIR\@/error.log access-log=\@DIR\@/access.log log-level=info \\
    access-log-format=$fmt connect-ports=$op
CONF
}

# The sequence; returns [ {url, method, status, bytes, result, hier, ctype, ua} ].
sub run_sequence {
	my ($port) = @_;
	my @exp;
	my $get = sub {
		my ($url, %o) = @_;
		my $r = http_get($port, $url, %o) // '';
		my ($st) = $r =~ m{^HTTP/1\.1 (\d{3})};
		return ($r, $st // 0);
	};
	my ($r, $st);
	($r, $st) = $get->("http://127.0.0.1:$op/ok", headers => "User-Agent: t/70 \"quoted\"\r\nReferer: http://ref.example/\r\n");
	push @exp, { url => "http://127.0.0.1:$op/ok", method => 'GET', status => 200,
	    bytes => length $r, result => 'TCP_MISS', hier => 'HIER_DIRECT/127.0.0.1',
	    ctype => 'text/plain', ua => 't/70 "quoted"', referer => 'http://ref.example/' };
	($r, $st) = $get->("http://127.0.0.1:$op/missing");
	push @exp, { url => "http://127.0.0.1:$op/missing", method => 'GET', status => 404,
	    bytes => length $r, result => 'TCP_MISS', hier => 'HIER_DIRECT/127.0.0.1',
	    ctype => 'text/html' };
	($r, $st) = $get->("http://127.0.0.1:$refused/refused");
	push @exp, { url => "http://127.0.0.1:$refused/refused", method => 'GET', status => 502,
	    bytes => length $r, result => 'TCP_MISS', hier => 'HIER_NONE/-', ctype => 'text/html' };
	($r, $st) = $get->("http://blocked.test/x");
	push @exp, { url => "http://blocked.test/x", method => 'GET', status => 403,
	    bytes => length $r, result => 'TCP_DENIED', hier => 'HIER_NONE/-', ctype => 'text/html' };
	($r, $st) = $get->("http://127.0.0.1:$op/song.mp3");
	push @exp, { url => "http://127.0.0.1:$op/song.mp3", method => 'GET', status => 302,
	    bytes => length $r, result => 'TCP_DENIED', hier => 'HIER_NONE/-', ctype => 'text/html' };
	$r = http_raw($port, "GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n") // '';
	push @exp, { url => "/origin-form", method => 'GET', status => 400,
	    bytes => length $r, result => 'NONE', hier => 'HIER_NONE/-', ctype => 'text/html' };
	$r = http_raw($port, "garbage\r\n\r\n") // '';
	push @exp, { url => "error:invalid-request", method => 'NONE', status => 400,
	    bytes => length $r, result => 'NONE', hier => 'HIER_NONE/-', ctype => 'text/html' };
	# CONNECT: a tunnel to the origin, logged as Squid does
	$r = http_raw($port, "CONNECT 127.0.0.1:$op HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n",
	    until => qr/\r\n\r\n/, timeout => 2) // '';
	push @exp, { url => "127.0.0.1:$op", method => 'CONNECT', status => 200,
	    bytes => length $r, result => 'TCP_TUNNEL', hier => 'HIER_DIRECT/127.0.0.1', ctype => '-' };
	# two requests on one connection: two lines, each with its own bytes
	$r = http_raw($port, "GET http://127.0.0.1:$op/ka1 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n" .
	    "GET http://127.0.0.1:$op/ka2 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n") // '';
	my @parts = split /(?=HTTP\/1\.1 200)/, $r;
	for my $i (1, 2) {
		push @exp, { url => "http://127.0.0.1:$op/ka$i", method => 'GET', status => 200,
		    bytes => length($parts[$i - 1] // ''), result => 'TCP_MISS',
		    hier => 'HIER_DIRECT/127.0.0.1', ctype => 'text/plain' };
	}
	return \@exp;
}

sub lines_of { my ($f) = @_; my $s = slurp($f) // ''; return [ split /\n/, $s ] }

my $json = JSON::PP->new;
my %parse = (
	squid => sub {
		my ($l) = @_;
		$l =~ m{^(\d+)\.(\d{3}) ([ \d]{5}\d) (\S+) ([A-Z_]+)/(\d{3}) (\d+) (\S+) (\S+) (\S+) (\S+/\S+) (\S+)$}
		    or return;
		return { time => "$1.$2", elapsed => $3, client => $4, result => $5, status => $6 + 0,
		    bytes => $7, method => $8, url => $9, user => $10, hier => $11, ctype => $12 };
	},
	common => sub {
		my ($l) = @_;
		$l =~ m{^(\S+) - (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "(\S+) (\S+) HTTP/1\.1" (\d{3}) (\d+|-)$}
		    or return;
		return { client => $1, user => $2, method => $4, url => $5, status => $6 + 0,
		    bytes => $7 eq '-' ? 0 : $7 };
	},
	combined => sub {
		my ($l) = @_;
		$l =~ m{^(\S+) - (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "(\S+) (\S+) HTTP/1\.1" (\d{3}) (\d+|-) "((?:[^"\\]|\\x..)*)" "((?:[^"\\]|\\x..)*)"$}
		    or return;
		my ($ref, $ua) = ($8, $9);
		s/\\x([0-9A-F]{2})/chr hex $1/ge for $ref, $ua;
		return { client => $1, user => $2, method => $4, url => $5, status => $6 + 0,
		    bytes => $7 eq '-' ? 0 : $7, referer => $ref, ua => $ua };
	},
	json => sub {
		my $o = eval { $json->decode($_[0]) } or return;
		return { %$o, hier => $o->{hierarchy} . '/' . ($o->{peer} // '-'),
		    ua => $o->{user_agent}, ctype => $o->{content_type},
		    method => $o->{method} // 'NONE', url => $o->{url} // 'error:invalid-request' };
	},
);

for my $fmt (qw(squid common combined json)) {
	my $v = start_viaduct(conf => conf_for($fmt));
	my $t0 = time;
	my $exp = run_sequence($v->port);
	my $t1 = time;
	my $n = @$exp;
	ok(wait_until(sub { @{ lines_of($v->dir . '/access.log') } == $n }),
	    "$fmt: the $n lines are written while running (1 s flush)");
	my ($st, $out, $err) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json']);
	is($st, 0, "$fmt: viaductctl monitor --json exits 0") or diag($err);
	my $m = eval { $json->decode($out) } // {};
	is($m->{requests}, $n, "$fmt: monitor requests = $n, one per log line");
	is($m->{'lookups-denied'}, 2, "$fmt: lookups-denied counts the 403 and the 302");
	is($v->stop, 0, "$fmt: stops cleanly");
	my $lines = lines_of($v->dir . '/access.log');
	is(scalar @$lines, $n, "$fmt: exactly $n lines after the stop");
	my %by_url;
	for my $l (@$lines) {
		my $p = $parse{$fmt}->($l);
		ok($p, "$fmt: line parses: $l") or next;
		$by_url{$p->{url}} = $p;
	}
	for my $e (@$exp) {
		my $p = $by_url{ $e->{url} };
		ok($p, "$fmt: a line for $e->{url}") or next;
		is($p->{method}, $e->{method}, "$fmt $e->{url}: method");
		is($p->{status}, $e->{status}, "$fmt $e->{url}: status");
		is($p->{bytes}, $e->{bytes}, "$fmt $e->{url}: bytes = what the client received");
		is($p->{client}, '127.0.0.1', "$fmt $e->{url}: client");
		if ($fmt eq 'squid' || $fmt eq 'json') {
			is($p->{result}, $e->{result}, "$fmt $e->{url}: result code");
			is($p->{hier}, $e->{hier}, "$fmt $e->{url}: hierarchy/peer");
			is($p->{ctype} // '-', $e->{ctype}, "$fmt $e->{url}: content type");
			ok($p->{time} >= int($t0) && $p->{time} <= $t1 + 1,
			    "$fmt $e->{url}: time is the wall clock in seconds.ms");
			like($p->{elapsed} // $p->{elapsed_ms}, qr/^\s*\d+$/, "$fmt $e->{url}: elapsed ms");
		}
		if (($fmt eq 'combined' || $fmt eq 'json') && $e->{ua}) {
			is($p->{ua}, $e->{ua}, "$fmt $e->{url}: user agent");
			is($p->{referer}, $e->{referer}, "$fmt $e->{url}: referer");
		}
	}
	next unless $fmt eq 'squid';

	# the analysers read the squid log without configuration and count the same
	my $log = $v->dir . '/access.log';
	my ($cst, $cout, $cerr) = run_cmd(['sh', '-c', "calamaris -a < '$log'"]);
	is($cst, 0, 'calamaris runs') or diag($cerr);
	my ($ctotal) = $cout =~ /^Total amount:\s+requests\s+(\d+)/m;
	is($ctotal, $m->{requests}, 'calamaris: Total amount = monitor requests');
	my ($cinvalid) = $cout =~ /^invalid lines:\s+lines\s+(\d+)/m;
	is($cinvalid, 0, 'calamaris: no invalid lines');
	# GoAccess's SQUID preset expects a syslog prefix; Squid's own access.log
	# (and ours) is read with the native format spelled out, as README says:
	my ($gfmt) = (slurp(src_dir() . '/README') // '') =~ /^`goaccess access\.log --log-format='([^']+)'/m;
	diag("README gives no GoAccess --log-format") unless $gfmt;
	my ($gst, $gout, $gerr) = run_cmd(['goaccess', $log, '--no-global-config',
	    "--log-format=$gfmt", '--date-format=%s',
	    '--time-format=%s', '-o', 'json']);
	is($gst, 0, 'goaccess runs') or diag($gerr);
	my $g = eval { $json->decode($gout) } // {};
	is($g->{general}{total_requests}, $m->{requests}, 'goaccess: total_requests = monitor requests');
	my @gurls = map { $_->{data} } @{ $g->{requests}{data} // [] }, @{ $g->{not_found}{data} // [] };
	is(join(' ', grep { / / } @gurls), '', "goaccess (README's format): every request's URL is the URL alone");
	ok(scalar(grep { $_->{data} eq 'text' } @{ $g->{mime_type}{data} // [] }),
	    "goaccess (README's format): the media type is read");

	# contrib/log-report
	my ($rst, $rout, $rerr) = run_cmd([src_dir() . '/contrib/log-report', $log]);
	is($rst, 0, 'log-report runs') or diag($rerr);
	like($rout, qr/^requests:\s+$m->{requests}$/m, 'log-report: requests = monitor requests');
	like($rout, qr/^hit ratio \(requests\):\s+0\.0%$/m, 'log-report: hit ratio 0 without a cache');
	like($rout, qr/^top denied:\n\s+1\s+127\.0\.0\.1\n\s+1\s+blocked\.test\n\n/m,
	    'log-report: top denied, by host');
	like($rout, qr/^status mix:\n  200\s+4 .*\n  302\s+1 .*\n  400\s+2 .*\n  403\s+1 .*\n  404\s+1 .*\n  502\s+1 /m,
	    'log-report: status mix');
	unlike($rout, qr/unparsable/, 'log-report: every line understood');
	# a CONNECT to an IPv6 address: the address in brackets is the domain
	($rst, $rout) = run_cmd(['sh', '-c', "printf '%s\\n' '1764790000.123      5 127.0.0.1 " .
	    "TCP_TUNNEL/200 39 CONNECT [2001:db8::1]:443 - HIER_DIRECT/2001:db8::1 -' | '" .
	    src_dir() . "/contrib/log-report'"]);
	like($rout, qr/^top domains:\n\s+1\s+100\.0%\s+\[2001:db8::1\]\n/m,
	    'log-report: CONNECT [v6]:port is counted under its address');
}

# Reverse and transparent ports: origin-form requests are logged with the
# absolute URL (Host's name, the port unless 80), as Squid logs them, the
# URL the cache keys on; analysers group them by site.
{
	my ($rp, $tp) = (free_port(), free_port());
	my $c = conf_for('squid') . "/viaduct\nset listen=127.0.0.1:$rp,127.0.0.1:$tp " .
	    "reverse-ports=$rp transparent-ports=$tp reverse-origins=www.rev.test=127.0.0.1:$op\n";
	my $v = start_viaduct(conf => $c);
	wait_port($rp) && wait_port($tp) or diag('extra listeners not up');
	http_raw($rp, "GET /rev?a=1 HTTP/1.1\r\nHost: www.rev.test\r\nConnection: close\r\n\r\n");
	http_raw($rp, "GET /rev2 HTTP/1.1\r\nHost: WWW.Rev.Test:80\r\nConnection: close\r\n\r\n");
	http_raw($tp, "GET /tp HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n");
	$v->stop;
	my $log = slurp($v->dir . '/access.log') // '';
	like($log, qr{ TCP_MISS/200 \d+ GET http://www\.rev\.test/rev\?a=1 - HIER_DIRECT/127\.0\.0\.1 }m,
	    'reverse port: logged as http://Host/path');
	like($log, qr{ GET http://www\.rev\.test/rev2 }m,
	    'reverse port: the host as the cache keys it (lower case, no :80)');
	like($log, qr{ TCP_MISS/200 \d+ GET http://127\.0\.0\.1:$op/tp - HIER_DIRECT/127\.0\.0\.1 }m,
	    'transparent port: logged as http://Host:port/path');
	my ($rst, $rout) = run_cmd(['sh', '-c', "'" . src_dir() . "/contrib/log-report' < '" .
	    $v->dir . "/access.log'"]);
	like($rout, qr/^\s+2\s+\S+\s+www\.rev\.test$/m, 'log-report: the reverse site is a domain');
}

# A pooled origin connection: the hierarchy field has the peer's address,
# as on a fresh one (Squid logs the IP), not the name it was opened for.
{
	my $v = start_viaduct(conf => conf_for('squid'));
	my $r = http_raw($v->port, "GET http://localhost:$op/pool1 HTTP/1.1\r\nHost: localhost:$op\r\n\r\n" .
	    "GET http://localhost:$op/pool2 HTTP/1.1\r\nHost: localhost:$op\r\nConnection: close\r\n\r\n") // '';
	$v->stop;
	my $log = slurp($v->dir . '/access.log') // '';
	like($log, qr{ GET http://localhost:$op/pool2 - HIER_DIRECT/127\.0\.0\.1 }m,
	    'pooled connection: HIER_DIRECT/ the address it is connected to');
}

# combined: a quote in the URL would end the quoted request field; it is
# %-encoded, and GoAccess's COMBINED preset reads every line.
{
	my $v = start_viaduct(conf => conf_for('combined'));
	http_raw($v->port, "GET http://127.0.0.1:$op/q?x=\"y\"&a=b HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    "Connection: close\r\n\r\n");
	http_get($v->port, "http://127.0.0.1:$op/plain");
	$v->stop;
	my $log = $v->dir . '/access.log';
	like(slurp($log) // '', qr{"GET http://127\.0\.0\.1:$op/q\?x=%22y%22&a=b HTTP/1\.1" 200 }m,
	    'combined: the quotes of the URL are %-encoded');
	my ($gst, $gout, $gerr) = run_cmd(['goaccess', $log, '--no-global-config',
	    '--log-format=COMBINED', '-o', 'json']);
	my $g = eval { $json->decode($gout) } // {};
	is(($g->{general}{valid_requests} // -1) . '/' . ($g->{general}{failed_requests} // -1), '2/0',
	    'combined: goaccess --log-format=COMBINED reads both lines') or diag($gerr);
}

# A request head that does not come in time: the 408's elapsed time is
# what the client took, from the connection's start (its first request) or
# the first byte of a later one, not 0.
{
	(my $c = conf_for('squid')) =~ s{log-level=info}{log-level=info request-header-timeout=1s};
	my $v = start_viaduct(conf => $c);
	my $r = http_raw($v->port, "GET http://127.0.0.1:$op/slow-head HTTP/1.1\r\nHost: x\r\n", timeout => 5) // '';
	$r .= http_raw($v->port, "GET http://127.0.0.1:$op/ka HTTP/1.1\r\nHost: x\r\n\r\nGET /second", timeout => 5) // '';
	$v->stop;
	my @t = map { /^\d+\.\d{3} +(\d+) \S+ NONE\/408 /m ? $1 : () } split /\n/, slurp($v->dir . '/access.log') // '';
	is(scalar(grep { $_ >= 1000 } @t) . '/' . scalar(@t), '2/2',
	    '408: elapsed counts the request-header-timeout the client took (first and kept-alive request)')
	    or diag("elapsed: @t; $r");
}

# access-log=none: nothing is written
{
	my $c = conf_for('squid');
	$c =~ s{access-log=\@DIR\@/access.log}{access-log=none};
	my $v = start_viaduct(conf => $c);
	like(http_get($v->port, "http://127.0.0.1:$op/none") // '', qr{^HTTP/1\.1 200 }, 'access-log=none: served');
	is($v->stop, 0, 'access-log=none: stops');
	ok(!-e $v->dir . '/access.log', 'access-log=none: no file');
}

done_testing();
