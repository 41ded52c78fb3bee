#!/usr/bin/perl
# Parent proxies through the real binary: Viaduct::Origin instances act as
# parents (they record the absolute-form requests they get and answer with
# their own name); the URL hash picks the same parent for the same URL,
# weights shift the share, a dead parent's URLs move to the others (only
# its own) and come back after parent-hold-time, the direct list's allow
# sends a request straight to the origin, CONNECT is chained as a CONNECT
# to the parent, and two viaducts that are each other's parent see the loop.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

# A parent that names itself in every answer.
sub parent {
	my ($name, %o) = @_;
	return Viaduct::Origin->new(%o, handler => sub {
		my ($req) = @_;
		my ($line) = $req =~ /^([^\r\n]*)/;
		my $body = "$name: $line\n";
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .
		    length($body) . "\r\n\r\n$body";
	});
}

sub conf {
	my ($extra, $lists) = @_;
	return Viaduct::Test::default_conf() .
	    "set workers=1 via-pseudonym=par.via parent-hold-time=1s $extra\n" . ($lists // '');
}

# Which parent answered a GET of url through the proxy ('' when none did).
sub who {
	my ($port, $url) = @_;
	my $r = http_get($port, $url) // '';
	return $r =~ m{^HTTP/1\.1 200 .*\r\n\r\n(\w+): }s ? $1 : '';
}

# The access log is written in batches: wait for the line.
sub al_like {
	my ($v, $re, $name) = @_;
	ok(wait_until(sub { (Viaduct::Test::slurp($v->dir . '/access.log') // '') =~ $re }),
	    $name) or diag(Viaduct::Test::slurp($v->dir . '/access.log'));
}

my @urls = map { "http://host$_.example/obj/$_?q=$_" } 1 .. 60;

{
	# --- the same URL always reaches the same parent; absolute-form, Host kept
	my ($a, $b) = (parent('A'), parent('B'));
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $a->port . ',127.0.0.1:' .
	    $b->port));
	my %first = map { $_ => who($v->port, $_) } @urls;
	is(scalar(grep { $_ eq '' } values %first), 0, 'every URL answered by a parent');
	my $same = grep { who($v->port, $_) eq $first{$_} } @urls;
	is($same, scalar @urls, 'the second round reaches the same parent for every URL');
	my $na = grep { $_ eq 'A' } values %first;
	ok($na > 10 && $na < 50, "both parents get a share (A: $na of 60)");

	my ($req) = grep { m{^GET http://host7\.example/obj/7\?q=7 HTTP/1\.1\r\n} }
	    ($a->requests, $b->requests);
	ok(defined $req, 'the parent got the request in absolute-form');
	like($req // '', qr/\r\nHost: host7\.example\r\n/, 'Host kept');
	like($req // '', qr/\r\nVia: 1\.1 par\.via\r\n/, 'our Via added');

	# OPTIONS with an empty path: absolute-form without a path
	my $r = http_raw($v->port, "OPTIONS http://opt.example:8000 HTTP/1.1\r\n" .
	    "Host: opt.example:8000\r\nMax-Forwards: 3\r\nConnection: close\r\n\r\n");
	like($r, qr/^HTTP\/1\.1 200 .*\r\n\r\n[AB]: OPTIONS http:\/\/opt\.example:8000 HTTP\/1\.1$/sm,
	    'OPTIONS with an empty path goes as http://authority');

	# connections to a parent are pooled across origins
	$a->clear;
	$b->clear;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Proto => 'tcp', Timeout => 5) or die "connect: $!";
	my $got = '';
	for my $u (@urls[0 .. 19]) {
		my ($h) = $u =~ m{^http://([^/]+)};
		print $s "GET $u HTTP/1.1\r\nHost: $h\r\n\r\n";
		my $one = '';
		while ($one !~ /\r\n\r\n.*\n/s) { sysread($s, $one, 65536, length $one) or last }
		$got .= $one;
	}
	close $s;
	is(scalar(() = $got =~ /^HTTP\/1\.1 200 /mg), 20, '20 requests on one client connection');
	my %peers = map { $_->[0] => 1 } ($a->log, $b->log);
	ok(keys(%peers) <= 2, 'sent on at most one connection per parent (' .
	    scalar(keys %peers) . ')');

	al_like($v, qr{ CARP/127\.0\.0\.1 }, 'access log: hierarchy CARP and the parent');
}

{
	# --- weights shift the share: 1:3 over 200 URLs
	my ($a, $b) = (parent('A'), parent('B'));
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $a->port . '/1,127.0.0.1:' .
	    $b->port . '/3'));
	my %n = (A => 0, B => 0, '' => 0);
	$n{ who($v->port, "http://w.example/$_") }++ for 1 .. 200;
	is($n{''}, 0, 'all 200 answered');
	ok($n{B} >= 125 && $n{B} <= 175, "weight 3 of 4 takes about 150 of 200 ($n{B})");
}

{
	# --- the RouterOS single parent: FIRSTUP_PARENT
	my $a = parent('A');
	my $v = start_viaduct(conf => conf('', "/ip proxy\nset parent-proxy=127.0.0.1 " .
	    'parent-proxy-port=' . $a->port . "\n"));
	is(who($v->port, 'http://single.example/x'), 'A', 'parent-proxy/parent-proxy-port used');
	al_like($v, qr{ FIRSTUP_PARENT/127\.0\.0\.1 }, 'access log: FIRSTUP_PARENT');
}

{
	# --- a dead parent: its URLs fail over, the others stay; back after the hold time
	my ($a, $b, $c) = (parent('A'), parent('B'), parent('C'));
	my $cport = $c->port;
	my $v = start_viaduct(conf => conf(join ',', 'parents=127.0.0.1:' . $a->port,
	    '127.0.0.1:' . $b->port, "127.0.0.1:$cport"));
	my %first = map { $_ => who($v->port, $_) } @urls;
	my @onc = grep { $first{$_} eq 'C' } @urls;
	ok(@onc >= 5, scalar(@onc) . ' URLs on C');
	$c->stop;
	undef $c;
	my %after = map { $_ => who($v->port, $_) } @urls;
	is(scalar(grep { $after{$_} eq '' } @urls), 0, 'C closed: every URL still answered');
	is(scalar(grep { $first{$_} ne 'C' && $after{$_} ne $first{$_} } @urls), 0,
	    "the URLs of A and B stayed where they were");
	is(scalar(grep { $after{$_} eq 'C' } @onc), 0, "C's URLs moved to A and B");
	ok(Viaduct::Test::wait_log($v, qr/parent 127\.0\.0\.1:$cport failed: marked down/),
	    'error log: C marked down');

	# C comes back on its port; after the hold time its URLs return to it
	$c = parent('C', port => $cport);
	sleep 1.5;
	my %back = map { $_ => who($v->port, $_) } @urls;
	is(scalar(grep { $back{$_} ne $first{$_} } @urls), 0,
	    'after parent-hold-time every URL is back on its first parent');
}

{
	# --- direct list: allow goes straight to the origin, the rest via the parent
	my $a = parent('A');
	my $o = Viaduct::Origin->new;
	my $op = $o->port;
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $a->port,
	    "/ip proxy direct\nadd dst-host=127.0.0.1 action=allow\n"));
	my $r = http_get($v->port, "http://127.0.0.1:$op/straight");
	like($r, qr/\r\n\r\nhello from origin: \/straight\n\z/, 'direct allow: from the origin');
	is(scalar($o->requests), 1, 'the origin got it');
	like(($o->requests)[0] // '', qr{^GET /straight HTTP/1\.1\r\n}, '... in origin-form');
	is(scalar(grep { /straight/ } $a->requests), 0, 'the parent did not');
	is(who($v->port, 'http://localhost.example/via'), 'A', 'no match: through the parent');
	al_like($v, qr{/straight .* HIER_DIRECT/127\.0\.0\.1 }, 'access log: HIER_DIRECT');
}

{
	# --- a parent that accepts but never answers: after response-timeout
	# it is marked down and the GET fails over to the next parent by hash
	my $silent = Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		my $head = '';
		while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or return }
		$record->($head);
		while (sysread($s, my $b, 65536)) { }
	});
	my $a = parent('A');
	my $sp = $silent->port;
	my $v = start_viaduct(conf => conf("response-timeout=500ms parents=127.0.0.1:$sp," .
	    '127.0.0.1:' . $a->port));
	my ($url, $r);
	for my $i (1 .. 20) {	# about half the URLs hash to the silent one
		$r = http_get($v->port, "http://slow.example/$i");
		if (scalar($silent->requests) > 0) { $url = "http://slow.example/$i"; last }
	}
	ok(defined $url, 'a URL hashed to the silent parent');
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nA: GET http://slow\.example/}s,
	    '... after the response timeout the other parent answers it');
	ok($v->wait_log(qr/parent 127\.0\.0\.1:$sp failed: marked down/),
	    'error log: the silent parent marked down');
	is(who($v->port, $url // 'http://slow.example/1'), 'A',
	    'its URL now goes to the other parent');
	is(scalar($silent->requests), 1, 'the silent parent was asked once');
}

{
	# --- no parent reachable, an explicit direct deny (never_direct): 502
	# (with no rule matching it falls back to the origin: 59-parents-fallback.t)
	my $dead = Viaduct::Test::free_port();
	my $v = start_viaduct(conf => conf("parents=127.0.0.1:$dead",
	    "/ip proxy direct\nadd action=deny\n"));
	my $r = http_get($v->port, 'http://nowhere.example/');
	like($r, qr{^HTTP/1\.1 502 }, 'the only parent refuses: 502');
	$r = http_get($v->port, 'http://nowhere.example/again');
	like($r, qr{^HTTP/1\.1 502 }, 'still marked down: 502');
	like($r, qr/no parent proxy is reachable/, '... saying why');
}

{
	# --- CONNECT chained through a parent
	my $tp = Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		my $head = '';
		while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or return }
		$record->($head);
		if ($head =~ /^CONNECT forbidden\./) {
			print $s "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope";
			return;
		}
		# the banner comes in the same segment as the head
		print $s "HTTP/1.1 200 Connection established\r\n\r\nhello";
		while (sysread($s, my $b, 65536)) { print $s uc $b }
	});
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $tp->port));
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Proto => 'tcp', Timeout => 5) or die "connect: $!";
	print $s "CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\n\r\n";
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) { sysread($s, $buf, 65536, length $buf) or last }
	like($buf, qr{^HTTP/1\.1 200 }, 'CONNECT through the parent: 200 relayed');
	like($buf, qr{\r\nDate: [^\r]+ GMT\r\n}, '... with a Date (RFC 9110 §6.6.1)');
	print $s "ping";
	my $echo = $buf =~ s/\A.*?\r\n\r\n//sr;
	while (length($echo) < 9) { sysread($s, $echo, 65536, length $echo) or last }
	is($echo, 'helloPING', 'the banner, then bytes through the tunnel at the parent');
	close $s;
	# 39 bytes of head, 5 of banner, 4 echoed: each counted once
	my $got;
	wait_until(sub {
		my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json']);
		($got) = $out =~ /"received-from-servers":\s*(\d+)/;
		($got // 0) >= 48;
	});
	is($got, 48, 'received-from-servers: every byte from the parent counted once');
	my ($req) = $tp->requests;
	like($req // '', qr{^CONNECT tunnel\.example:443 HTTP/1\.1\r\n}, 'the parent got CONNECT host:port');
	like($req // '', qr{\r\nVia: 1\.1 par\.via\r\n}, '... with our Via');
	my $r = http_raw($v->port, "CONNECT forbidden.example:443 HTTP/1.1\r\n" .
	    "Host: forbidden.example:443\r\n\r\n");
	like($r, qr{^HTTP/1\.1 403 .*\r\n\r\nnope\z}s, "the parent's refusal is relayed");
}

{
	# --- a parent that answers in HTTP/1.0 gets no chunked request body
	# (RFC 9112 §6.1): remembered like a 1.0 origin, the client gets 411
	my $old = Viaduct::Origin->new(handler => sub {
		"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold";
	});
	my $v = start_viaduct(conf => conf('parents=127.0.0.1:' . $old->port));
	my $r = http_get($v->port, 'http://old.example/first');
	like($r, qr{^HTTP/1\.1 200 .*\r\n\r\nold\z}s, 'a 1.0 parent answers');
	$r = http_raw($v->port, "POST http://old.example/up HTTP/1.1\r\nHost: old.example\r\n" .
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	like($r, qr{^HTTP/1\.1 411 }, 'a chunked body for a 1.0 parent: 411');
	is(scalar(grep { m{^POST } } $old->requests), 0, '... the parent saw nothing of it');
	$r = http_raw($v->port, "POST http://old.example/up HTTP/1.1\r\nHost: old.example\r\n" .
	    "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
	like($r, qr{^HTTP/1\.1 200 }, 'with Content-Length it goes');
}

{
	# --- two viaducts, each the other's parent: the loop is seen (508)
	my ($p1, $p2) = (Viaduct::Test::free_port(), Viaduct::Test::free_port());
	my $c1 = conf("parents=127.0.0.1:$p2");
	my $c2 = conf("parents=127.0.0.1:$p1");
	$c2 =~ s/par\.via/par2.via/;
	my $v1 = start_viaduct(conf => $c1, port => $p1);
	my $v2 = start_viaduct(conf => $c2, port => $p2);
	my $r = http_get($p1, 'http://loop.example/');
	like($r, qr{^HTTP/1\.1 508 }, 'a chain that loops back: 508');
	# CONNECT carries the client's Via on too, so the loop ends the same
	$r = http_raw($p1, "CONNECT loop.example:443 HTTP/1.1\r\nHost: loop.example:443\r\n\r\n",
	    timeout => 10);
	like($r, qr{^HTTP/1\.1 508 }, 'a CONNECT chain that loops back: 508');
	is(scalar(() = ($r =~ /^Via: /mg)), 3, '... after one round (v1 answers, v2 and v1 relay: three Via lines)');
}

done_testing();
