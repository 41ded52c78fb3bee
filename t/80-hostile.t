#!/usr/bin/perl
# Hostile input against the real binary: garbage, oversized, NUL-laden,
# slowloris and pipelined-junk requests from clients, malformed responses
# from an origin.  Each gets a clear status (or the close RFC 9112 asks
# for), no worker dies (the same pids before and after every case, nothing
# from a sanitizer in stderr), `viaductctl monitor --json` still answers,
# and a normal request afterwards is served.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Socket;
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

my $good = Viaduct::Origin->new;
my $g = '127.0.0.1:' . $good->port;

# The malformed origin: GET /NAME answers with $bad{NAME}, raw.
my %bad = (
	'garbage-status' => "FOO BAR\r\n\r\n",
	'http09' => "just a body, no status line\n",
	'status-2-digits' => "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
	'status-4-digits' => "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
	'status-letters' => "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
	'bad-version' => "HTTP/one 200 OK\r\nContent-Length: 0\r\n\r\n",
	'nul-in-status' => "HTTP/1.1 200 O\0K\r\nContent-Length: 2\r\n\r\nok",
	'nul-in-field' => "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok",
	'two-lengths' => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
	'length-letters' => "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nok",
	'length-negative' => "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok",
	'length-overflow' => "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok",
	'field-no-colon' => "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\nok",
	'unknown-coding' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: bogus\r\n\r\nok",
	'huge-header' => "HTTP/1.1 200 OK\r\n" . ("X-Pad: " . ('p' x 1000) . "\r\n") x 200 .
	    "Content-Length: 2\r\n\r\nok",
	'many-fields' => "HTTP/1.1 200 OK\r\n" . join('', map { "X-F$_: v\r\n" } 1 .. 1000) .
	    "Content-Length: 2\r\n\r\nok",
	'binary' => join('', map { chr(($_ * 7919 + 13) % 256) } 1 .. 3000),
	'empty' => '',
);
my $origin = Viaduct::Origin->new(raw => sub {
	my ($s, $record) = @_;
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) {
		my $n = sysread($s, $buf, 65536, length $buf);
		return if !$n;
	}
	$record->($buf);
	my ($name) = $buf =~ m{^GET /([\w-]+)};
	$name //= '';
	if ($name eq 'short-body') {	# promises 1000 bytes, sends 10, closes
		print $s "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
	} elsif ($name eq 'bad-chunk') {	# a valid chunk, then a broken size
		print $s "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n";
	} elsif ($name eq 'chunk-overflow') {
		print $s "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .
		    "ffffffffffffffffffff\r\nabc\r\n";
	} elsif ($name eq 'continue-flood') {	# 1xx without end, then a 200
		print $s "HTTP/1.1 100 Continue\r\n\r\n" x 2000;
		print $s "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	} elsif ($name eq 'half-header') {
		print $s "HTTP/1.1 200 OK\r\nContent-Le";
	} elsif ($name eq 'reset') {	# RST instead of FIN
		setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('ii', 1, 0));
		print $s "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
		sleep 0.1;
		close $s;
		return;
	} elsif ($name eq 'slow') {	# the client is gone before this answers
		sleep 1;
		local $SIG{PIPE} = 'IGNORE';
		print $s "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	} elsif ($name eq 'big') {	# 8 MB the client stops reading and drops
		local $SIG{PIPE} = 'IGNORE';
		print $s "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n";
		my $chunk = 'b' x 65536;
		for (1 .. 128) { print $s $chunk or last }
	} elsif ($name eq 'huge-chunk-ext') {
		print $s "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;" .
		    ('e' x 100000) . "\r\nok\r\n0\r\n\r\n";
	} elsif ($name eq 'huge-trailer') {
		print $s "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" .
		    ("X-T: " . ('t' x 1000) . "\r\n") x 200 . "\r\n";
	} elsif ($name eq 'space-before-colon') {
		print $s "HTTP/1.1 200 OK\r\nContent-Length : 2\r\nX-A\t: 1\r\n\r\nok";
	} elsif (exists $bad{$name}) {
		print $s $bad{$name};
	}
	sleep 0.2;
});
my $o = '127.0.0.1:' . $origin->port;

my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set request-header-timeout=2s keepalive-timeout=2s response-timeout=5s max-request-line=1KiB\n" .
    # few slots: a slot an error path forgets to free soon shows as 503
    "/ip proxy\nset max-client-connections=4\n");
my $port = $v->port;
ok(wait_until(sub { (() = $v->children) >= 2 }), 'workers up');
sleep 0.3;
my @kids = $v->children;
note("children: @kids");

sub status_of { my ($r) = @_; ($r // '') =~ m{\AHTTP/1\.[01] (\d\d\d) } ? $1 : 'none' }
sub statuses { my @s = ($_[0] // '') =~ m{(?:\A|\n)HTTP/1\.1 (\d\d\d) }g; @s }

# Nothing died: same children, nothing from a sanitizer.
sub still_standing {
	my ($name) = @_;
	my @now = $v->children;
	is("@now", "@kids", "$name: no worker died") or
	    diag(slurp($v->errlog) // '');
	my $err = slurp($v->{log}) // '';
	unlike($err, qr/AddressSanitizer|LeakSanitizer|runtime error/, "$name: no sanitizer report")
	    or diag($err);
}

sub normal_ok {
	my ($name) = @_;
	my $r = http_get($port, "http://$g/normal") // '';
	like($r, qr{\AHTTP/1\.1 200 .*\r\n\r\nhello from origin: /normal\n\z}s,
	    "$name: a normal request afterwards is served");
}

# ---- clients ---------------------------------------------------------------
my $junk = join('', map { chr(($_ * 131 + 7) % 256) } 1 .. 4096);
my @client = (
	# [name, bytes, expected status]
	[ 'binary junk', "$junk\r\n\r\n", 400 ],
	[ 'NUL-only line', "\0\0\0\0\r\n\r\n", 400 ],
	[ 'NUL in the method', "G\0T http://$g/ HTTP/1.1\r\nHost: $g\r\n\r\n", 400 ],
	[ 'NUL in the target', "GET http://$g/a\0b HTTP/1.1\r\nHost: $g\r\n\r\n", 400 ],
	[ 'NUL in a field name', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\nX-\0A: b\r\n\r\n", 400 ],
	[ 'NUL in the Host value', "GET http://$g/ HTTP/1.1\r\nHost: 127.0.0.1\0:80\r\n\r\n", 400 ],
	[ 'method with a slash', "G/T http://$g/ HTTP/1.1\r\nHost: $g\r\n\r\n", 400 ],
	[ 'two spaces', "GET  http://$g/ HTTP/1.1\r\nHost: $g\r\n\r\n", 400 ],
	[ 'no version', "GET http://$g/\r\nHost: $g\r\n\r\n", 400 ],
	[ 'version garbage', "GET http://$g/ HTTP/x.y\r\nHost: $g\r\n\r\n", 400 ],
	[ 'HTTP/2.0 on a 1.1 connection', "GET http://$g/ HTTP/2.0\r\nHost: $g\r\n\r\n", 505 ],
	[ 'HTTP/9.9', "GET http://$g/ HTTP/9.9\r\nHost: $g\r\n\r\n", 505 ],
	[ 'request line over max-request-line', "GET http://$g/" . ('a' x 4000) . " HTTP/1.1\r\nHost: $g\r\n\r\n", 414 ],
	[ 'header block over max-header-size', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\n" .
	    ("X-Pad: " . ('p' x 1000) . "\r\n") x 100 . "\r\n", 431 ],
	[ 'more fields than max-headers', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\n" .
	    join('', map { "X-F$_: v\r\n" } 1 .. 300) . "\r\n", 431 ],
	[ 'field without a colon', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\nNoColon\r\n\r\n", 400 ],
	[ 'field name with a space', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\nX A: b\r\n\r\n", 400 ],
	[ 'empty field name', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\n: b\r\n\r\n", 400 ],
	[ 'no Host in HTTP/1.1', "GET http://$g/ HTTP/1.1\r\n\r\n", 400 ],
	[ 'two Host fields', "GET http://$g/ HTTP/1.1\r\nHost: $g\r\nHost: $g\r\n\r\n", 400 ],
	[ 'port out of range', "GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: 127.0.0.1:99999\r\n\r\n", 400 ],
	[ 'port not a number', "GET http://127.0.0.1:8x/ HTTP/1.1\r\nHost: 127.0.0.1:8x\r\n\r\n", 400 ],
	[ 'userinfo-only authority', "GET http://@/ HTTP/1.1\r\nHost: x\r\n\r\n", 400 ],
	[ 'empty authority', "GET http:/// HTTP/1.1\r\nHost: x\r\n\r\n", 400 ],
	[ 'bracket soup host', "GET http://[::1/ HTTP/1.1\r\nHost: [::1\r\n\r\n", 400 ],
	[ 'Content-Length letters', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nContent-Length: 1x\r\n\r\nab", 400 ],
	[ 'Content-Length overflow', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nContent-Length: 99999999999999999999999\r\n\r\nab", 400 ],
	[ 'Content-Length negative', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nContent-Length: -1\r\n\r\nab", 400 ],
	[ 'chunk size letters', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400 ],
	[ 'chunk size overflow', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nab\r\n0\r\n\r\n", 400 ],
	[ 'host name over 255 bytes', "GET http://" . ('a' x 300) . "/ HTTP/1.1\r\nHost: " . ('a' x 300) . "\r\n\r\n", 400 ],
	[ 'huge chunk extension', "POST http://$g/ HTTP/1.1\r\nHost: $g\r\nTransfer-Encoding: chunked\r\n\r\n2;" .
	    ('e' x 100000) . "\r\nab\r\n0\r\n\r\n", 400 ],
	[ 'CONNECT without a port', "CONNECT $g HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 403 ],
	[ 'CONNECT to a garbage authority', "CONNECT \x01\x02:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400 ],
);

for my $t (@client) {
	my ($name, $bytes, $want) = @$t;
	$good->clear;
	my $t0 = time;
	my $r = http_raw($port, $bytes, timeout => 8);
	note(sprintf("%s: %.1f s", $name, time - $t0));
	is(status_of($r), $want, "$name: $want") or diag(substr($r // '', 0, 300));
	unlike($r // '', qr/\r\n\r\n.*HTTP\/1\.1 /s, "$name: one response, then closed");
	is(scalar(() = $good->requests), 0, "$name: nothing reached the origin");
	still_standing($name);
}

# Just inside the limits is still served.
{
	my $path = '/' . ('a' x 900);
	my $r = http_get($port, "http://$g$path", timeout => 8);
	like($r // '', qr{\AHTTP/1\.1 200 .*hello from origin: \Q$path\E\n\z}s, 'a 900-byte target is served');
	$r = http_get($port, "http://$g/many", timeout => 8, headers => join('', map { "X-F$_: v\r\n" } 1 .. 100));
	like($r // '', qr{\AHTTP/1\.1 200 }, '100 fields are served');
	still_standing('inside the limits');
}

# An empty connection, closed at once, and one that closes half-way
# through a request line: no response, no damage.
for my $t ([ 'connect and close', '' ], [ 'close mid request line', 'GET http://' ]) {
	my ($name, $bytes) = @$t;
	my $r = http_raw($port, $bytes, half_close => 1, timeout => 8);
	is($r, '', "$name: closed without a response");
	still_standing($name);
}

# Pipelined: a good request, then junk.  The good one is answered, the junk
# gets 400, and the connection closes (RFC 9112 §9.3: no more after an error).
{
	my $r = http_raw($port, "GET http://$g/p1 HTTP/1.1\r\nHost: $g\r\n\r\n" .
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 junk\r\n\r\n" .
	    "GET http://$g/p3 HTTP/1.1\r\nHost: $g\r\n\r\n", timeout => 8);
	is_deeply([ statuses($r) ], [ 200, 400 ], 'pipelined junk: 200, 400, then closed')
	    or diag($r);
	like($r, qr{hello from origin: /p1\n}, 'pipelined junk: the first request was served');
	unlike($r, qr{/p3}, 'pipelined junk: nothing after the junk was served');
	still_standing('pipelined junk');
}

# Many pipelined requests in one write: every one answered, in order.
{
	my $n = 40;
	my $req = join('', map { "GET http://$g/q$_ HTTP/1.1\r\nHost: $g\r\n\r\n" } 1 .. $n - 1) .
	    "GET http://$g/q$n HTTP/1.1\r\nHost: $g\r\nConnection: close\r\n\r\n";
	my $r = http_raw($port, $req, timeout => 10);
	my @paths = $r =~ m{hello from origin: /q(\d+)\n}g;
	is_deeply(\@paths, [ 1 .. $n ], "$n pipelined requests answered in order");
	still_standing('pipelined burst');
}

# Slowloris: a header trickled one field at a time never completes, and
# request-header-timeout (2 s) ends it with 408 however often bytes arrive.
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
	$s->autoflush(1);
	print $s "GET http://$g/slow HTTP/1.1\r\nHost: $g\r\n";
	my $buf = '';
	my $end = time + 20;	# safety net only
	my $i = 0;
	while (time < $end) {
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		if (select(my $rout = $rin, undef, undef, 0.25)) {
			my $n = sysread($s, $buf, 65536, length $buf);
			last if !$n;
			next;
		}
		local $SIG{PIPE} = 'IGNORE';
		print $s "X-Slow-$i: x\r\n" or last;
		$i++;
	}
	close $s;
	is(status_of($buf), 408, "slowloris: 408 (after $i trickled fields)") or diag($buf);
	cmp_ok(time, '<', $end, 'slowloris: the connection was closed by the proxy');
	still_standing('slowloris');
}

# An idle connection that never sends a byte is closed by the proxy.
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	my $r = select(my $rout = $rin, undef, undef, 15);	# safety net
	my $buf = '';
	sysread($s, $buf, 65536) if $r > 0;
	ok($r > 0, 'idle connection: the proxy ends it');
	ok($buf eq '' || status_of($buf) eq '408', 'idle connection: closed silently or with 408')
	    or diag($buf);
	close $s;
	still_standing('idle');
}

# More connections than max-client-connections (4): the extra ones get 503
# at once, the others are ended by the header timeout, and the slots come back.
{
	my @s = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') } 1 .. 7;
	my ($busy, $ended) = (0, 0);
	for my $s (@s) {
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		my $buf = '';
		if (select(my $rout = $rin, undef, undef, 15) > 0) {	# safety net
			sysread($s, $buf, 65536);
			$busy++ if status_of($buf) eq '503';
			$ended++;
		}
		close $s;
	}
	cmp_ok($busy, '>=', 3, "over the limit: at least 3 of 7 got 503 ($busy)");
	is($ended, 7, 'over the limit: every connection was ended by the proxy');
	still_standing('over the limit');
	normal_ok('over the limit');
}

# ---- a hostile origin ------------------------------------------------------
for my $name (sort keys %bad) {
	my $r = http_get($port, "http://$o/$name", timeout => 10);
	is(status_of($r), 502, "origin $name: 502") or diag(substr($r // '', 0, 300));
	still_standing("origin $name");
}

# RFC 9112 §5.1: a proxy removes whitespace between a response field's name
# and its colon before forwarding (a request with it is refused)
{
	my $r = http_get($port, "http://$o/space-before-colon", timeout => 10) // '';
	like($r, qr{\AHTTP/1\.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n.*\r\n\r\nok\z}s,
	    'origin space-before-colon: forwarded with the whitespace removed');
	still_standing('origin space-before-colon');
}

# A body cut short by the origin, and broken chunking after the header went
# out: the client must see the connection end without a complete message
# (never a hang, never a well-formed response it would take for whole).
{
	my $r = http_get($port, "http://$o/short-body", timeout => 10);
	like($r, qr{\AHTTP/1\.1 (?:200|502) }, 'origin short-body: a status line') or diag($r);
	if (status_of($r) eq '200') {
		my ($body) = $r =~ /\r\n\r\n(.*)\z/s;
		cmp_ok(length($body // ''), '<', 1000, 'origin short-body: the body is short, then closed');
	} else {
		pass('origin short-body: 502 before the header went out');
	}
	still_standing('origin short-body');

	for my $name ('bad-chunk', 'chunk-overflow') {
		$r = http_get($port, "http://$o/$name", timeout => 10);
		like($r, qr{\AHTTP/1\.1 (?:200|502) }, "origin $name: a status line") or diag($r);
		unlike($r, qr/\r\n0\r\n\r\n\z/, "origin $name: no terminating chunk to the client");
		still_standing("origin $name");
	}
}

# Clients that go away at the worst moment: while the origin is still
# thinking, in the middle of a large body, in the middle of a request body.
for my $t ([ 'client gone before the response', "GET http://$o/slow HTTP/1.1\r\nHost: $o\r\n\r\n", 0.3 ],
    [ 'client gone mid body', "GET http://$o/big HTTP/1.1\r\nHost: $o\r\n\r\n", 0.3 ],
    [ 'client gone mid request body', "POST http://$g/post HTTP/1.1\r\nHost: $g\r\nContent-Length: 100000\r\n\r\n" .
        ('x' x 1000), 0.3 ]) {
	my ($name, $bytes, $wait) = @$t;
	for my $rst (0, 1) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
		$s->autoflush(1);
		print $s $bytes;
		sleep $wait;
		my ($buf, $rin) = ('', '');
		vec($rin, fileno($s), 1) = 1;	# read a little if there is any, leave the rest
		sysread($s, $buf, 1024) if select(my $rout = $rin, undef, undef, 0) > 0;
		setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $rst;
		close $s;
	}
	sleep 1.2;	# the origin's slow answer arrives to nobody
	still_standing($name);
	normal_ok($name);
}

# RFC 9110 §15.2: a proxy forwards 1xx; the final response must follow them.
{
	my $r = http_get($port, "http://$o/continue-flood", timeout => 10) // '';
	$r =~ s{\AHTTP/1\.1 100 Continue\r\n(?:[^\r\n]+\r\n)*\r\n}{}g while $r =~ m{\AHTTP/1\.1 100 };
	like($r, qr{\A(?:HTTP/1\.1 200 .*\r\n\r\nok\z|HTTP/1\.1 502 )}s, 'origin continue-flood: the 200 after the 1xx, or 502')
	    or diag(substr($r, 0, 300));
	still_standing('origin continue-flood');
}

for my $name ('half-header', 'reset', 'huge-chunk-ext', 'huge-trailer') {
	my $t0 = time;
	my $r = http_get($port, "http://$o/$name", timeout => 10);
	note(sprintf("origin %s: %.1f s", $name, time - $t0));
	like($r // '', qr{\A(?:\z|HTTP/1\.1 (?:200|502) )}, "origin $name: 200, 502 or a close")
	    or diag(substr($r // '', 0, 300));
	still_standing("origin $name");
}
is(status_of(http_get($port, "http://$o/half-header", timeout => 10)), 502, 'origin half-header: 502');

# An origin that sends more than the framing says (at once, or a moment
# later while its connection idles in the pool): the extra bytes are never
# taken for the answer to someone else's request (response desync).
for my $late (0, 1) {
	my $d = Viaduct::Origin->new(raw => sub {
		my ($s, $record) = @_;
		my $buf = '';
		while (1) {
			while ($buf !~ /\r\n\r\n/) {
				my $n = sysread($s, $buf, 65536, length $buf);
				return if !$n;
			}
			$buf =~ s/\A(.*?\r\n\r\n)//s;
			my $req = $1;
			$record->($req);
			local $SIG{PIPE} = 'IGNORE';
			if ($req =~ m{^GET /first}) {
				print $s "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
				sleep 0.1 if $late;
				print $s "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!";
			} else {
				print $s "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nreal2";
			}
		}
	});
	my $u = 'http://127.0.0.1:' . $d->port;
	my $name = $late ? 'extra bytes later' : 'extra bytes at once';
	like(http_get($port, "$u/first", timeout => 5) // '', qr{\r\n\r\nok\z}, "$name: the first answer");
	sleep 0.3;
	for my $i (1 .. 3) {
		like(http_get($port, "$u/second$i", timeout => 5) // '', qr{\AHTTP/1\.1 200 .*\r\n\r\nreal2\z}s,
		    "$name: request $i gets its own answer");
	}
	still_standing($name);
}

# ---- still alive and well --------------------------------------------------
my ($st, $out, $err) = run_cmd([ viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json' ]);
is($st, 0, 'viaductctl monitor --json exits 0') or diag($err);
like($out, qr/"requests": \d+/, 'monitor --json reports requests');
normal_ok('end');
ok(wait_until(sub { my (undef, $j) = run_cmd([ viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json' ]);
    $j =~ /"client-connections": 0\b/ }, 10), 'no client connection left open: every error path freed its slot');
still_standing('end');
is($v->stop, 0, 'stops cleanly');
unlike(slurp($v->{log}) // '', qr/AddressSanitizer|LeakSanitizer|runtime error/,
    'nothing from a sanitizer at stop either');
done_testing();
