#!/usr/bin/perl
# The admin listener (issue 7): off by default (the master holds the proxy's
# socket only); with admin-port set, loopback only, GET /metrics is the
# Prometheus text exposition (a strict parser; every value equal to
# `viaductctl monitor --json`, per worker and summed), HEAD, keep-alive and
# pipelining, 404/405/400 for anything else; PURGE URL removes a cached
# object (200) or says it held none (404); admin-allow refuses with 403 after
# a reload, and a reload to another admin-port binds the new socket and
# closes the old; the proxy port never answers /metrics or PURGE itself and never
# connects to the admin listener on a client's behalf; `viaduct -t` reports
# bad admin properties at FILE:LINE:COL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use Viaduct::Test;
use Viaduct::Origin;
use Viaduct::Prom;

my $json = JSON::PP->new;
my $ctl = viaductctl_bin();

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $path) = $req =~ m{^(\S+) (\S+)};
	if ($m eq 'PURGE') {
		my $b = "origin refuses PURGE\n";
		return "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: " . length($b) .
		    "\r\n\r\n$b";
	}
	my $b = "object $path\n";
	my $vary = $path =~ m{^/vary} ? "Vary: Accept-Language\r\n" : '';
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=300\r\n" .
	    "${vary}Content-Length: " . length($b) . "\r\n\r\n$b";
});
my $op = $o->port;
sub origin_count { my ($re) = @_; scalar grep { /$re/ } $o->requests }

# The listening TCP sockets a process holds: "ADDR:PORT" (IPv4, hex decoded).
sub listening {
	my ($pid) = @_;
	my %inode;
	for my $fd (glob "/proc/$pid/fd/*") {
		my $l = readlink($fd) // next;
		$inode{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
	}
	my @out;
	for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
		open(my $fh, '<', $f) or next;
		<$fh>;
		while (<$fh>) {
			my @c = split;
			next unless $c[3] eq '0A' && $inode{ $c[9] };
			my ($a, $p) = split /:/, $c[1];
			my $addr = length $a == 8 ? join('.', reverse map { hex } unpack('(A2)4', $a)) : $a;
			push @out, "$addr:" . hex($p);
		}
	}
	return sort @out;
}

# --- viaduct -t --------------------------------------------------------------
{
	my $d = tmpdir_keep();
	# [ the /viaduct line's properties, the property whose value is wrong, message ]
	my @bad = (
	    [ 'admin-port=8080', 'admin-port', qr/admin-port 8080 is also a port of the proxy/, 'admin-port = a proxy port' ],
	    [ 'admin-port=9 admin-allow=10.0.0.1/8', 'admin-allow', qr/invalid prefix "10\.0\.0\.1\/8" in admin-allow/, 'host bits in a prefix' ],
	    [ 'admin-port=9 admin-allow=127.0.0.0/33', 'admin-allow', qr/invalid prefix "127\.0\.0\.0\/33" in admin-allow/, 'prefix too long' ],
	    [ 'admin-port=9 admin-allow=::1,bogus', 'admin-allow', qr/invalid prefix "bogus" in admin-allow/, 'not an address' ],
	    [ 'admin-port=9 admin-allow=127.0.0.1,', 'admin-allow', qr/admin-allow/, 'an empty item' ],
	    [ 'admin-address=localhost admin-port=9', 'admin-address', qr/invalid address "localhost" in admin-address/, 'admin-address by name' ],
	    [ 'admin-port=70000', 'admin-port', qr/admin-port/, 'port out of range' ],
	);
	for my $b (@bad) {
		my ($set, $prop, $re, $name) = @$b;
		my $line = "set $set";
		my $col = index($line, "$prop=") + length("$prop=") + 1;
		spew("$d/bad.conf", "/ip proxy\nset enabled=yes port=8080\n/viaduct\n$line\n");
		my ($st, $out, $err) = run_cmd([viaduct_bin(), '-t', '-f', "$d/bad.conf"]);
		is($st >> 8, 1, "-t: $name: exit status 1");
		like($err, qr/^\Q$d\E\/bad\.conf:4:$col: .*$re/m,
		    "-t: $name: FILE:4:$col (the value) and why") or diag($err);
	}
	spew("$d/ok.conf", "/ip proxy\nset enabled=yes port=8080\n/viaduct\n" .
	    "set admin-address=127.0.0.1,::1 admin-port=8081 admin-allow=127.0.0.0/8,::1/128,192.0.2.0/24\n");
	my ($st, $out, $err) = run_cmd([viaduct_bin(), '-t', '-f', "$d/ok.conf"]);
	is($st, 0, '-t: a good admin configuration is OK') or diag($err);
}

# --- off by default ------------------------------------------------------------
{
	my $v = start_viaduct();
	my @l = listening($v->pid);
	is_deeply(\@l, ['127.0.0.1:' . $v->port], 'default: the master holds the proxy socket only');
	is($v->stop, 0, 'default: stops cleanly');
}

# --- on ---------------------------------------------------------------------------
my $ap = free_port();
my $conf = default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=10MiB}r .
    "set admin-port=$ap\n";
my $v = start_viaduct(conf => $conf);
my $cf = $v->{conf};
ok(wait_port($ap), 'admin port accepts');
is_deeply([listening($v->pid)], [sort('127.0.0.1:' . $v->port, "127.0.0.1:$ap")],
    'admin-port set: one more socket, on loopback (admin-address default)');

sub admin { http_raw($ap, $_[0], timeout => 5) // '' }
sub proxy_get { http_get($v->port, $_[0]) // '' }
sub body_of { my ($r) = @_; $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }
sub ctl_json {
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, @_]);
	is($st, 0, "viaductctl @_: exit 0") or diag($err);
	return eval { $json->decode($out) } // {};
}

# some traffic first, so that the counters are not all zero
like(proxy_get("http://127.0.0.1:$op/a"), qr{^HTTP/1\.1 200 }, 'proxy: a miss');
like(proxy_get("http://127.0.0.1:$op/a"), qr{^HTTP/1\.1 200 }, 'proxy: a hit');
is(origin_count(qr{^GET /a }), 1, 'the origin saw /a once (the second was a hit)');
like(proxy_get("http://127.0.0.1:$op/b"), qr{^HTTP/1\.1 200 }, 'proxy: another miss');

# /metrics: strict format, equal to monitor --json, per worker and summed
{
	# the cache manager sets cache-used on its own clock: compare once it
	# has counted the two stored objects and the node is quiet (/metrics,
	# viaductctl metrics and monitor agree on it)
	my ($r, $ctext, $m);
	wait_until(sub {
		$r = admin("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		(undef, $ctext) = run_cmd([$ctl, '-f', $cf, 'metrics']);
		$m = ctl_json('monitor', '--json', '--workers');
		my ($used) = $ctext =~ /^viaduct_cache_used (\d+)$/m;
		body_of($r) eq $ctext && ($m->{'cache-used'} // -1) == ($used // -2) && $used > 0
	}, 15);
	like($r, qr{^HTTP/1\.1 200 OK\r\n}, 'GET /metrics: 200');
	like($r, qr{^Content-Type: text/plain; version=0\.0\.4; charset=utf-8\r$}m,
	    'GET /metrics: the exposition media type');
	like($r, qr{^Connection: close\r$}m, 'Connection: close honoured');
	like(undate($r), qr{^Date: D\r$}m, 'RFC 9110 §6.6.1: dated');
	my $text = body_of($r);
	my ($cl) = $r =~ /^Content-Length: (\d+)\r$/m;
	is($cl, length $text, 'Content-Length = the body');
	my ($val, $type, $errs) = parse_prom($text);
	is_deeply($errs, [], '/metrics parses strictly') or diag(join("\n", @$errs));
	agrees_with_monitor($val, $type, $m, qr/^(?:requests|accepted|hits)$/);
	is($val->{'viaduct_requests_total{}'}, 3, 'three proxy requests; admin requests are not counted');
	is($val->{'viaduct_hits_total{}'}, 1, 'one hit');
	is($type->{viaduct_syslog_dropped_total}, 'counter', 'syslog-dropped is exposed');
	is($text, $ctext, '/metrics = viaductctl metrics (same renderer, same segment)');

	my $h = admin("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	like($h, qr{^HTTP/1\.1 200 OK\r\n}, 'HEAD /metrics: 200');
	# (a gauge may have moved since: the length of the same kind of text)
	my ($hcl) = $h =~ /^Content-Length: (\d+)\r$/m;
	cmp_ok(abs(($hcl // 0) - length $text), '<', 64, 'HEAD: the Content-Length of the exposition');
	is(body_of($h), '', 'HEAD: no body');
}

# keep-alive, pipelining, and the other answers
{
	my $r = admin("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n" .
	    "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	my @st = $r =~ m{^HTTP/1\.1 (\d{3}) }mg;
	is_deeply(\@st, [200, 200, 404], 'three pipelined requests on one connection: 200 200 404');
	like(admin("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
	    qr{^HTTP/1\.1 405 .*\r\nAllow: GET, HEAD\r\n}s, 'POST /metrics: 405 with Allow');
	like(admin("GET http://127.0.0.1:$op/a HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
	    qr{^HTTP/1\.1 405 .*\r\nAllow: PURGE\r\n}s, 'GET of an absolute URL: 405 (the admin port never proxies)');
	is(origin_count(qr{^GET /a }), 1, '... and the origin saw nothing');
	like(admin("get /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	    qr{^HTTP/1\.1 405 }, 'method names are case-sensitive: get is not GET');
	like(admin("purge http://127.0.0.1:$op/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	    qr{^HTTP/1\.1 405 }, '... nor purge PURGE');
	like(admin("PURGE /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	    qr{^HTTP/1\.1 400 }, 'PURGE without an absolute URL: 400');
	like(admin("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
	    qr{^HTTP/1\.1 400 .*Connection: close\r\n}s, 'a request body: 400 and close');
	like(admin("GET /metrics HTTP/1.1\nHost: x\n\n"), qr{^HTTP/1\.1 400 }, 'bare LF: 400 (strict parser)');
	like(admin("GET /metrics?" . ('x' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n"),
	    qr{^HTTP/1\.1 414 .*Connection: close\r\n}s, 'a request line over 4 KiB: 414 and close');
	like(admin("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " . ('y' x 9000) . "\r\n\r\n"),
	    qr{^HTTP/1\.1 431 .*Connection: close\r\n}s, 'a head over 8 KiB: 431 and close');
	like(admin("GET /metrics HTTP/1.0\r\n\r\n"), qr{^HTTP/1\.1 200 .*Connection: close\r\n}s,
	    'HTTP/1.0 without keep-alive: answered, then closed');
}

# PURGE
{
	my $cc = ctl_json('cache-contents', '--json');
	ok((grep { $_->{uri} eq "http://127.0.0.1:$op/a" } @$cc), '/a is in the cache');
	my $r = admin("PURGE http://127.0.0.1:$op/a HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 200 OK\r\n}, 'PURGE of a cached URL: 200');
	$r = admin("PURGE http://127.0.0.1:$op/a HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 404 }, 'PURGE again: 404, nothing removed');
	like(admin("PURGE http://127.0.0.1:$op/never HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	    qr{^HTTP/1\.1 404 }, 'PURGE of a URL never cached: 404');
	# with Vary: the first PURGE removes the variants, the second nothing
	like(http_raw($v->port, "GET http://127.0.0.1:$op/vary9 HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    "Accept-Language: en\r\nConnection: close\r\n\r\n") // '', qr{^HTTP/1\.1 200 }, 'a Vary object');
	$r = admin("PURGE http://127.0.0.1:$op/vary9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 200 }, 'PURGE of a URL stored with Vary: 200');
	$r = admin("PURGE http://127.0.0.1:$op/vary9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 404 }, 'PURGE again: 404, no variant since');
	$cc = ctl_json('cache-contents', '--json');
	ok(!(grep { $_->{uri} eq "http://127.0.0.1:$op/a" } @$cc), 'cache-contents: /a is gone');
	ok((grep { $_->{uri} eq "http://127.0.0.1:$op/b" } @$cc), 'cache-contents: /b stays');
	like(proxy_get("http://127.0.0.1:$op/a"), qr{^HTTP/1\.1 200 }, 'proxy: /a again');
	is(origin_count(qr{^GET /a }), 2, 'after the PURGE /a went to the origin again');
	like(proxy_get("http://127.0.0.1:$op/b"), qr{^HTTP/1\.1 200 }, 'proxy: /b again');
	is(origin_count(qr{^GET /b }), 1, '/b is still a hit');
}

# the proxy port never exposes any of this
{
	my $r = http_raw($v->port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") // '';
	like($r, qr{^HTTP/1\.1 400 }, 'proxy port: GET /metrics (origin-form) is not a proxy request: 400');
	unlike($r, qr/viaduct_/, 'proxy port: no metrics');
	$r = http_raw($v->port, "PURGE http://127.0.0.1:$op/b HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n") // '';
	like($r, qr{^HTTP/1\.1 405 .*origin refuses PURGE}s,
	    'proxy port: PURGE is forwarded like any method (the origin answers)');
	is(origin_count(qr{^PURGE /b }), 1, 'the origin received the PURGE');
	like(proxy_get("http://127.0.0.1:$op/b"), qr{^HTTP/1\.1 200 }, 'proxy: /b');
	is(origin_count(qr{^GET /b }), 1, '... still cached: the proxy port purged nothing');
	for my $host ("127.0.0.1:$ap", "localhost:$ap") {
		$r = proxy_get("http://$host/metrics");
		like($r, qr{^HTTP/1\.1 502 }, "proxy port: http://$host/metrics is refused (502)");
		unlike($r, qr/viaduct_requests_total/, "proxy port: $host: no metrics through the proxy");
	}
	$r = http_raw($v->port, "PURGE http://127.0.0.1:$ap/ HTTP/1.1\r\nHost: 127.0.0.1:$ap\r\nConnection: close\r\n\r\n") // '';
	like($r, qr{^HTTP/1\.1 502 }, 'proxy port: a PURGE aimed at the admin listener is refused');
}

# admin-allow, changed by a reload: the same socket, now 403 for loopback
{
	my @old = map { $_->{pid} } @{ ctl_json('monitor', '--json', '--workers')->{workers} // [] };
	is(scalar @old, 2, 'two workers before the reload');
	$v->write_conf($conf . "set admin-allow=192.0.2.0/24,2001:db8::/32\n");
	$v->signal('HUP');
	# the old generation answers with its own conf until it has drained
	ok(wait_until(sub { !grep { alive($_) } @old }, 15), 'the old generation is gone');
	ok(wait_until(sub { admin("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") =~ m{^HTTP/1\.1 403 } }, 15),
	    'after the reload: 403 for a client outside admin-allow');
	my $r = admin("PURGE http://127.0.0.1:$op/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 403 }, 'PURGE from outside admin-allow: 403');
	like(proxy_get("http://127.0.0.1:$op/b"), qr{^HTTP/1\.1 200 }, 'proxy: /b');
	is(origin_count(qr{^GET /b }), 1, '... still cached after the refused PURGE');
	unlike(slurp($v->errlog) // '', qr/\[(?:error|crit)\]/, 'no error in the log');
}

# another admin-port by a reload: the new socket is bound, the old one closed
{
	my @old = map { $_->{pid} } @{ ctl_json('monitor', '--json', '--workers')->{workers} // [] };
	my $ap2 = free_port();
	$v->write_conf($conf =~ s/admin-port=$ap/admin-port=$ap2/r);
	$v->signal('HUP');
	ok(wait_until(sub { !grep { alive($_) } @old }, 15), 'reload 2: the old generation is gone');
	ok(wait_until(sub { (http_raw($ap2, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") // '')
	    =~ m{^HTTP/1\.1 200 } }, 15), 'the new admin port serves /metrics');
	ok(wait_until(sub { join(' ', listening($v->pid)) eq join(' ', sort('127.0.0.1:' . $v->port, "127.0.0.1:$ap2")) }, 15),
	    'the master holds the proxy socket and the new admin socket only');
	ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ap, Proto => 'tcp'),
	    'the old admin port is closed');
}

is($v->stop, 0, 'viaduct stops cleanly');

# refused clients hold no slot; Connection is a list; conflicting lengths
# are a 400; absolute-form /metrics; keepalive-timeout=0s says close
{
	my $ap3 = free_port();
	my $w = start_viaduct(conf => default_conf() =~ s/workers=2/workers=1/r .
	    "set admin-port=$ap3 admin-allow=127.0.0.2\n");
	ok(wait_port($ap3), 'admin port up');
	my @idle = map { IO::Socket::INET->new(LocalAddr => '127.0.0.3', PeerAddr => '127.0.0.1',
	    PeerPort => $ap3, Proto => 'tcp') // () } 1 .. 40;
	is(scalar @idle, 40, '40 connections from a refused address');
	my $r;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.2', PeerAddr => '127.0.0.1',
	    PeerPort => $ap3, Proto => 'tcp') or die "connect: $!";
	print $s "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: TE, close\r\nTE: trailers\r\n\r\n";
	$r = read_until_close($s, 5);
	like($r, qr{^HTTP/1\.1 200 }, 'the allowed client is served beside them');
	like($r, qr{\r\nConnection: close\r\n}, '"Connection: TE, close" closes');
	my $got = '';
	sysread($idle[0], $got, 4096);
	like($got, qr{^HTTP/1\.1 403 }, 'a refused client got its 403 at once');
	close $_ for @idle;

	$s = IO::Socket::INET->new(LocalAddr => '127.0.0.2', PeerAddr => '127.0.0.1',
	    PeerPort => $ap3, Proto => 'tcp') or die "connect: $!";
	print $s "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 10\r\n\r\n" .
	    "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";
	$r = read_until_close($s, 5);
	my @st = $r =~ m{^HTTP/1\.1 (\d{3}) }mg;
	is_deeply(\@st, [400], 'conflicting Content-Length: one 400, then closed');

	$s = IO::Socket::INET->new(LocalAddr => '127.0.0.2', PeerAddr => '127.0.0.1',
	    PeerPort => $ap3, Proto => 'tcp') or die "connect: $!";
	print $s "GET http://127.0.0.1:$ap3/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	like(read_until_close($s, 5), qr{^HTTP/1\.1 200 .*viaduct_requests_total}s,
	    'an absolute-form GET of /metrics is served (RFC 9112 §3.2.2)');

	$w->write_conf(default_conf() =~ s/workers=2/workers=1/r .
	    "set admin-port=$ap3 admin-allow=127.0.0.2 keepalive-timeout=0s\n");
	$w->signal('HUP');
	ok($w->wait_log(qr/reloaded: generation 1/), 'reloaded with keepalive-timeout=0s');
	ok(wait_until(sub {
		my $c = IO::Socket::INET->new(LocalAddr => '127.0.0.2', PeerAddr => '127.0.0.1',
		    PeerPort => $ap3, Proto => 'tcp') or return 0;
		print $c "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
		read_until_close($c, 5) =~ m{^HTTP/1\.1 200 .*\r\nConnection: close\r\n}s;
	}, 15), 'keepalive-timeout=0s: the admin port says Connection: close');
	is($w->stop, 0, 'stops cleanly');
}
done_testing();
