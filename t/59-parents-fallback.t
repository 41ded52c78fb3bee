#!/usr/bin/perl
# Parent failover to the origin (viaduct.conf(5), the direct list): with no
# direct rule matching, a request goes through the parents and, when every
# parent is down or each one tried failed, straight to the origin (in
# origin-form); an explicit `action=deny` keeps it on the parents
# (never_direct: 502, the origin sees nothing).  A parent that accepts and
# never answers: after response-timeout a GET goes to the origin, a POST
# whose body went to the parent is not sent again (504).  CONNECT falls
# back to a direct tunnel.  A parent that resets the connection after
# reading the request fails the same way (a GET goes on, a POST does not).  Each fallback is logged and counted
# (parent-fallbacks); the direct rule's hits are counted once per request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use JSON::PP;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $ctl = viaductctl_bin();

sub conf {
	my ($extra, $lists) = @_;
	return Viaduct::Test::default_conf() .
	    "set workers=1 via-pseudonym=fb.via parent-hold-time=1m connect-timeout=500ms " .
	    "response-timeout=500ms $extra\n" . ($lists // '');
}

sub ctl_json {
	my ($v, @args) = @_;
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, @args, '--json']);
	is($st, 0, "viaductctl @args") or diag($err);
	return eval { decode_json($out) } // {};
}

# The counter as viaductctl monitor shows it.
sub fallbacks {
	my ($v) = @_;
	return ctl_json($v, 'monitor')->{'parent-fallbacks'};
}

# A parent that reads the request head, records it and never answers.
sub silent {
	return Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		my $head = '';
		while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or return }
		$record->($head);
		while (sysread($s, my $b, 65536)) { }
	});
}

my @dead = (Viaduct::Test::free_port(), Viaduct::Test::free_port());
my $parents = join ',', map { "127.0.0.1:$_" } @dead;

{
	# --- every parent refuses, no direct rule matches: the origin answers
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $v = start_viaduct(conf => conf("parents=$parents"));
	is(fallbacks($v), 0, 'parent-fallbacks starts at 0');
	my $r = http_get($v->port, "http://127.0.0.1:$op/fb/1");
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nhello from origin: /fb/1\n\z}s,
	    'both parents refuse: 200 from the origin');
	my @req = $o->requests;
	is(scalar @req, 1, 'the origin got the request once');
	like($req[0] // '', qr{^GET /fb/1 HTTP/1\.1\r\n}, '... in origin-form');
	like($req[0] // '', qr{\r\nVia: 1\.1 fb\.via\r\n}, '... with our Via');
	ok($v->wait_log(qr/no parent proxy answers, straight to the origin 127\.0\.0\.1:$op/),
	    'error log: the fallback at info level');

	# both marked down now: the next request goes straight to the origin
	$r = http_get($v->port, "http://127.0.0.1:$op/fb/2");
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nhello from origin: /fb/2\n\z}s,
	    'parents marked down: 200 from the origin');
	like(($o->requests)[1] // '', qr{^GET /fb/2 HTTP/1\.1\r\n}, '... in origin-form');

	# OPTIONS with an empty path went as http://authority to a parent: "*" again
	$r = http_raw($v->port, "OPTIONS http://127.0.0.1:$op HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    "Max-Forwards: 3\r\nConnection: close\r\n\r\n");
	like($r, qr{^HTTP/1\.1 200 }, 'OPTIONS with an empty path: 200 from the origin');
	like(($o->requests)[2] // '', qr{^OPTIONS \* HTTP/1\.1\r\n}, '... as OPTIONS *');
	is(fallbacks($v), 3, 'parent-fallbacks counts each fallback');
	ok(wait_until(sub { (Viaduct::Test::slurp($v->dir . '/access.log') // '') =~
	    m{/fb/2 .* HIER_DIRECT/127\.0\.0\.1 } }), 'access log: HIER_DIRECT');
}

{
	# --- an explicit direct deny: the parents only (never_direct)
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $v = start_viaduct(conf => conf("parents=$parents",
	    "/ip proxy direct\nadd dst-host=127.0.0.1 action=deny\n"));
	my $r = http_get($v->port, "http://127.0.0.1:$op/nd/1");
	like($r, qr{^HTTP/1\.1 502 }, 'direct deny, both parents refuse: 502');
	$r = http_get($v->port, "http://127.0.0.1:$op/nd/2");
	like($r, qr{^HTTP/1\.1 502 .*no parent proxy is reachable}s,
	    'direct deny, parents marked down: 502 saying why');
	is(scalar($o->requests), 0, 'the origin saw nothing');
	is(fallbacks($v), 0, 'no fallback counted');
	my $rules = ctl_json($v, 'rules');
	is($rules->{direct}[0]{hits}, 2, 'the deny rule counted once per request');

	# a name that the rule does not match: no rule matched, so the origin
	$r = http_get($v->port, "http://localhost:$op/nd/3");
	like($r, qr{^HTTP/1\.1 200 .*hello from origin: /nd/3\n\z}s,
	    'no rule matched: the origin after all');
	is(ctl_json($v, 'rules')->{direct}[0]{hits}, 2, '... the deny rule not counted');
}

{
	# --- a dst-address deny rule for a name: asked again once it is resolved
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $v = start_viaduct(conf => conf("parents=$parents",
	    "/ip proxy direct\nadd dst-address=127.0.0.0/8 action=deny\n"));
	my $r = http_get($v->port, "http://localhost:$op/addr/1");
	like($r, qr{^HTTP/1\.1 502 }, 'dst-address deny on the resolved origin: 502');
	is(scalar($o->requests), 0, 'the origin saw nothing');
	is(ctl_json($v, 'rules')->{direct}[0]{hits}, 1, 'the rule counted once');
	is(fallbacks($v), 0, 'no fallback counted');
}

{
	# --- the only parent accepts and never answers: a GET goes to the origin
	my $s = silent();
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $sp = $s->port;
	my $v = start_viaduct(conf => conf("parents=127.0.0.1:$sp"));
	my $r = http_get($v->port, "http://127.0.0.1:$op/slow/1");
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nhello from origin: /slow/1\n\z}s,
	    'a silent parent: after response-timeout the GET reaches the origin');
	is(scalar($s->requests), 1, 'the silent parent was asked once');
	like(($s->requests)[0] // '', qr{^GET http://127\.0\.0\.1:$op/slow/1 HTTP/1\.1\r\n},
	    '... in absolute-form');
	like(($o->requests)[0] // '', qr{^GET /slow/1 HTTP/1\.1\r\n}, 'the origin: origin-form');
	ok($v->wait_log(qr/parent 127\.0\.0\.1:$sp failed: marked down/),
	    'error log: the silent parent marked down');
	is(fallbacks($v), 1, 'one fallback counted');
}

{
	# --- ... a POST whose body went to the silent parent is not sent again
	my $s = silent();
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $s->port));
	my $r = http_raw($v->port, "POST http://127.0.0.1:$op/post HTTP/1.1\r\n" .
	    "Host: 127.0.0.1:$op\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
	like($r, qr{^HTTP/1\.1 504 }, 'a POST with a body to a silent parent: 504');
	is(scalar($s->requests), 1, 'the parent got it');
	is(scalar($o->requests), 0, 'the origin did not');
	is(fallbacks($v), 0, 'no fallback counted');
}

{
	# --- the only parent resets the connection after reading the request:
	# a GET goes to the origin, a POST with a body is not sent again
	my $r_st = Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		my $head = '';
		while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or return }
		$record->($head);
		setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));	# close = RST
		close $s;
	});
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $rp = $r_st->port;
	my $v = start_viaduct(conf => conf("parents=127.0.0.1:$rp"));
	my $r = http_get($v->port, "http://127.0.0.1:$op/rst/1");
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nhello from origin: /rst/1\n\z}s,
	    'a parent that resets: the GET reaches the origin');
	is(scalar($r_st->requests), 1, 'the resetting parent was asked once');
	ok($v->wait_log(qr/parent 127\.0\.0\.1:$rp failed: marked down/),
	    'error log: the resetting parent marked down');
	is(fallbacks($v), 1, 'one fallback counted');

	my $w = start_viaduct(conf => conf("parents=127.0.0.1:$rp"));
	$r = http_raw($w->port, "POST http://127.0.0.1:$op/rst/post HTTP/1.1\r\n" .
	    "Host: 127.0.0.1:$op\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
	like($r, qr{^HTTP/1\.1 502 }, 'a POST with a body to a resetting parent: 502');
	is(scalar($r_st->requests), 2, 'the parent got it');
	is(scalar(grep { m{/rst/post} } $o->requests), 0, 'the origin did not');
}

{
	# --- CONNECT: every parent refuses, a direct tunnel to the origin
	my $echo = Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		$record->('tunnel');
		while (sysread($s, my $b, 65536)) { print $s uc $b }
	});
	my $ep = $echo->port;
	my $v = start_viaduct(conf => conf("parents=$parents connect-ports=$ep"));
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Proto => 'tcp', Timeout => 5) or die "connect: $!";
	print $s "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: 127.0.0.1:$ep\r\n\r\n";
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) { sysread($s, $buf, 65536, length $buf) or last }
	like($buf, qr{^HTTP/1\.1 200 Connection established\r\n}, 'CONNECT: 200 from viaduct');
	print $s "ping";
	my $got = '';
	while (length($got) < 4) { sysread($s, $got, 65536, length $got) or last }
	is($got, 'PING', 'bytes go through a direct tunnel');
	close $s;
	is(scalar($echo->requests), 1, 'the origin got the tunnel');
	is(fallbacks($v), 1, 'one fallback counted');

	# never_direct holds for CONNECT too
	my $w = start_viaduct(conf => conf("parents=$parents connect-ports=$ep",
	    "/ip proxy direct\nadd action=deny\n"));
	my $r = http_raw($w->port, "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: 127.0.0.1:$ep\r\n\r\n");
	like($r, qr{^HTTP/1\.1 502 }, 'CONNECT with a direct deny: 502');
	is(scalar($echo->requests), 1, 'no second tunnel');
}

done_testing();
