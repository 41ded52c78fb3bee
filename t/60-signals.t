#!/usr/bin/perl
# USR1 reopens the logs (logrotate), TERM drains a response in flight, QUIT
# stops without waiting for it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

# --- USR1 after the logs were moved away ----------------------------------------
{
	my $v = start_viaduct();
	my $dir = $v->dir;
	ok($v->wait_log(qr/started/), 'error log written');
	rename("$dir/error.log", "$dir/error.log.1") or die;
	unlink("$dir/access.log");
	$v->signal('USR1');
	ok(wait_until(sub { (slurp("$dir/error.log") // '') =~ /reopened log files/ }),
	    'USR1: the master writes to a new error log');
	unlike(slurp("$dir/error.log.1") // '', qr/reopened log files/,
	    'and no longer to the moved one');
	ok(-e "$dir/access.log", 'USR1: the access log is created again');
	{
		rename("$dir/error.log", "$dir/error.log.2") or die;
		my ($st) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'reopen']);
		is($st, 0, 'viaductctl reopen: exit 0');
		ok(wait_until(sub { (slurp("$dir/error.log") // '') =~ /reopened log files/ }),
		    'viaductctl reopen: a new error log again');
	}
	is($v->stop, 0, 'stops with 0');
}

# An origin that sends the head now and the body `delay` seconds later.
sub slow_origin {
	my ($delay) = @_;
	return Viaduct::Origin->new(handler => sub {
		return sub {
			my ($c) = @_;
			my $body = "the slow body\n";
			print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) .
			    "\r\nConnection: close\r\n\r\n";
			sleep $delay;
			print $c $body;
		};
	});
}

# Send a GET, wait for the response head; returns the socket and what was read.
sub start_request {
	my ($port, $oport) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 5) or return;
	print $s "GET http://127.0.0.1:$oport/slow HTTP/1.1\r\nHost: 127.0.0.1:$oport\r\n" .
	    "Connection: close\r\n\r\n";
	my $buf = '';
	my $end = time + 10;
	while ($buf !~ /\r\n\r\n/ && time < $end) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $r = $rin, undef, undef, 0.5) or next;
		sysread($s, $buf, 65536, length $buf) or last;
	}
	return ($s, $buf);
}

sub finish_request {
	my ($s, $buf) = @_;
	my $end = time + 15;
	while (time < $end) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $r = $rin, undef, undef, 0.5) or next;
		sysread($s, $buf, 65536, length $buf) or last;
	}
	return $buf;
}

# --- TERM lets a response in flight finish ---------------------------------------
{
	my $o = slow_origin(2);
	my $v = start_viaduct();
	my ($s, $buf) = start_request($v->port, $o->port);
	like($buf, qr{\AHTTP/1\.1 200 }, 'the slow response has started');
	$v->signal('TERM');
	$buf = finish_request($s, $buf);
	like($buf, qr{\r\n\r\nthe slow body\n\z}, 'TERM: the client still gets the complete body');
	is($v->stop(signal => 0), 0, 'TERM: the master exits 0');
	like(slurp($v->errlog) // '', qr/TERM: graceful stop/, 'TERM: logged as a graceful stop');
}

# --- QUIT does not wait ---------------------------------------------------------------
{
	my $o = slow_origin(4);
	my $v = start_viaduct();
	my ($s, $buf) = start_request($v->port, $o->port);
	like($buf, qr{\AHTTP/1\.1 200 }, 'the slow response has started');
	$v->signal('QUIT');
	$buf = finish_request($s, $buf);
	unlike($buf, qr{the slow body}, 'QUIT: the connection is closed without the body');
	is($v->stop(signal => 0), 0, 'QUIT: the master exits 0');
	like(slurp($v->errlog) // '', qr/QUIT: fast stop/, 'QUIT: logged as a fast stop');
}

# --- after TERM, new connections are refused once the workers stopped accepting --
{
	my $v = start_viaduct();
	my $port = $v->port;
	$v->stop;
	ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp'),
	    'after the stop nothing listens on the port');
}

done_testing();
