#!/usr/bin/perl
# 1xx responses and Expect: 100-continue (RFC 9110 §10.1.1, §15.2), and
# max-request-body (413).  Only a 100 meets the expectation; any 1xx
# restarts response-timeout.  The origin is raw: it answers 1xx before it has
# read the body, or answers early, or ignores the expectation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

sub read_head {
	my ($c) = @_;
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) {
		sysread($c, $buf, 1, length $buf) or return undef;	# one byte: leave the body
	}
	return $buf;
}

sub read_n {
	my ($c, $n) = @_;
	my $buf = '';
	while (length $buf < $n) { sysread($c, $buf, $n - length $buf, length $buf) or last }
	return $buf;
}

my $origin = Viaduct::Origin->new(raw => sub {
	my ($c, $record) = @_;
	while (defined(my $head = read_head($c))) {
		my ($path) = $head =~ m{^\S+ (\S+)};
		my ($cl) = $head =~ /^Content-Length: (\d+)/mi;
		if ($path eq '/continue') {
			print $c "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n";
			my $body = read_n($c, $cl);
			$record->($head . $body);
			print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
		} elsif ($path eq '/early') {
			$record->($head);
			print $c "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope";
			sleep 2;	# then close, the body never read
			return;
		} elsif ($path eq '/processing') {
			# 102 is no 100: the client still waits for one
			print $c "HTTP/1.1 102 Processing\r\n\r\n";
			my $body = read_n($c, $cl);
			$record->($head . $body);
			print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
		} elsif ($path eq '/alive') {
			# 102 every 0.5 s for 3 s, longer than response-timeout
			$record->($head);
			for (1 .. 6) { print $c "HTTP/1.1 102 Processing\r\n\r\n"; select(undef, undef, undef, 0.5) }
			print $c "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";
		} elsif ($path eq '/hints') {
			$record->($head);
			print $c "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" .
			    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		} else {	# ignores Expect: waits for the body
			my $body = read_n($c, $cl // 0);
			$record->($head . $body);
			print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
		}
	}
});
my $o = "127.0.0.1:" . $origin->port;

my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set via-pseudonym=exp.via max-request-body=10 response-timeout=2s\n");
my $port = $v->port;

sub client {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
	    Timeout => 5) or die "connect: $!";
	$s->autoflush(1);
	return $s;
}

# Read until `re` matches or 10 s of silence (a safety net, not an assertion).
sub read_until {
	my ($s, $re) = @_;
	my $buf = '';
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while ($buf !~ $re) {
		last unless select(my $r = $rin, undef, undef, 10);
		sysread($s, $buf, 65536, length $buf) or last;
	}
	return $buf;
}

# --- the origin's 100 is relayed, then the body flows
my $s = client();
print $s "PUT http://$o/continue HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
my $got = read_until($s, qr/\r\n\r\n/);
is($got, "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\nVia: 1.1 exp.via\r\n\r\n",
    "origin's 100 relayed (hop-by-hop removed, Via added) before the body was sent");
print $s "hello";
$got = read_until($s, qr/\r\n\r\nhello/);
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nhello\z}s, 'then the final response');
my @r = $origin->requests;
is($r[-1], "PUT /continue HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 5\r\n" .
    "X-Forwarded-For: 127.0.0.1\r\nVia: 1.1 exp.via\r\n\r\nhello", 'origin got Expect and the body');
close $s;

# --- a client slow to send its body after the origin's 100 is not timed
# out by the 1 s viaduct waits for an origin's 100 (idle-timeout holds)
$s = client();
print $s "PUT http://$o/continue HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
$got = read_until($s, qr/\r\n\r\n/);
like($got, qr{\AHTTP/1\.1 100 Continue\r\n}, 'the origin\'s 100');
select(undef, undef, undef, 1.6);
print $s "late";
$got = read_until($s, qr/\r\n\r\n(late|.*<\/html>\n)/s);
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nlate\z}s, 'the body 1.6 s after the 100: 200, not 408');
close $s;

# --- 102 is not the 100 the client waits for: viaduct's own 100 still comes
$s = client();
print $s "PUT http://$o/processing HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
$got = read_until($s, qr/100 Continue\r\n\r\n/);
is($got, "HTTP/1.1 102 Processing\r\nVia: 1.1 exp.via\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
    'the origin\'s 102 relayed, then viaduct\'s own 100');
print $s "abc";
like(read_until($s, qr/\r\n\r\nabc/), qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nabc\z}s, '... and the body went through');
close $s;

# --- interim responses show the origin is alive: response-timeout (2 s
# here) starts again with each
$got = http_raw($port, "GET http://$o/alive HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n",
    timeout => 10);
like($got, qr{\A(?:HTTP/1\.1 102 Processing\r\nVia: 1\.1 exp\.via\r\n\r\n){6}HTTP/1\.1 200 OK\r\n.*\r\n\r\ndone\z}s,
    'six 102 over 3 s, then the 200: no 504 after response-timeout');

# --- RFC 9110 §10.1.1: a 100-continue expectation in a 1.0 request is
# ignored, not turned into one of the 1.1 request sent on
$s = client();
print $s "PUT http://$o/continue10 HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello";
$got = read_until($s, qr/\r\n\r\nhello/);
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nhello\z}s, 'a 1.0 request with Expect: served, no 100 to the 1.0 client');
@r = $origin->requests;
is($r[-1], "PUT /continue10 HTTP/1.1\r\nHost: $o\r\nContent-Length: 5\r\n" .
    "X-Forwarded-For: 127.0.0.1\r\nVia: 1.0 exp.via\r\n\r\nhello", '... and the origin got no Expect');
close $s;

# --- a final response without 100: relayed, body never sent, connection closed
$s = client();
print $s "POST http://$o/early HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n";
$got = read_until($s, qr/nope/);
like($got, qr{\AHTTP/1\.1 401 Unauthorized\r\n.*\r\nConnection: close\r\n.*\r\n\r\nnope\z}s,
    'early final response relayed with Connection: close');
is(sysread($s, my $x, 1), 0, 'client connection closed after it (the body was never sent)');
close $s;

# --- the origin ignores Expect: viaduct sends 100 itself, nobody waits forever
$s = client();
print $s "POST http://$o/silent HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
$got = read_until($s, qr/\r\n\r\n/);
is($got, "HTTP/1.1 100 Continue\r\n\r\n", 'silent origin: viaduct sends its own 100 Continue');
print $s "abc";
$got = read_until($s, qr/\r\n\r\nabc/);
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nabc\z}s, 'silent origin: the body went through');
close $s;
# RFC 9110 §10.1.1: Expect is a list, any case
$s = client();
print $s "POST http://$o/silent HTTP/1.1\r\nHost: $o\r\nExpect: x-other, 100-CONTINUE\r\nContent-Length: 3\r\n\r\n";
$got = read_until($s, qr/\r\n\r\n/);
is($got, "HTTP/1.1 100 Continue\r\n\r\n", '100-continue as the second member of Expect: the same 100');
print $s "abc";
like(read_until($s, qr/\r\n\r\nabc/), qr{\AHTTP/1\.1 200 OK\r\n}, '... and the answer');
close $s;

# --- a client that sends its body at once is not held up
$got = http_raw($port, "POST http://$o/silent HTTP/1.1\r\nHost: $o\r\nExpect: 100-continue\r\n" .
    "Content-Length: 3\r\nConnection: close\r\n\r\nxyz");
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nxyz\z}s, 'Expect with the body sent at once: plain 200');

# --- 103 to a 1.1 client, not to a 1.0 client
$got = http_raw($port, "GET http://$o/hints HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
like($got, qr{\AHTTP/1\.1 103 Early Hints\r\nLink: </s\.css>; rel=preload\r\nVia: 1\.1 exp\.via\r\n\r\nHTTP/1\.1 200 OK\r\n.*\r\n\r\nok\z}s, '103 relayed to a 1.1 client, then the 200');
$got = http_raw($port, "GET http://$o/hints HTTP/1.0\r\n\r\n");
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nok\z}s, 'no 1xx to a 1.0 client');

# --- max-request-body=10
$origin->clear;
$got = http_raw($port, "POST http://$o/big HTTP/1.1\r\nHost: $o\r\nContent-Length: 11\r\n\r\n01234567890");
like($got, qr{\AHTTP/1\.1 413 Content Too Large\r\n.*\r\nConnection: close\r\n}s, 'Content-Length over max-request-body: 413');
$got = http_raw($port, "POST http://$o/bigc HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n" .
    "6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n");
like($got, qr{\AHTTP/1\.1 413 }, 'chunked body over max-request-body: 413');
is(scalar(grep { m{^POST /big } } $origin->requests), 0, 'the too-large Content-Length request never reached the origin');
$got = http_raw($port, "POST http://$o/ok HTTP/1.1\r\nHost: $o\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n0123456789\z}s, 'a body at the limit passes');

done_testing();
