package Viaduct::DNS;
# A tiny authoritative DNS server on loopback UDP for tests: answers A and
# AAAA queries from a table, NXDOMAIN for names it does not know, and logs
# every question.  Runs in a forked child; stopped on scope exit.
#
#   my $d = Viaduct::DNS->new(records => { 'two.test' => { A => ['127.0.0.1', '127.0.0.2'] } });
#   $d->port;  # give viaduct dns-servers=127.0.0.1:PORT
#   $d->questions;  # ("two.test A", ...) in arrival order
# Option ttl => seconds (default 60) for every answer; delay => seconds to
# wait before each answer (a slow server: lookups overlap).
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(inet_aton inet_pton AF_INET6);
use File::Temp qw(tempfile);
use Time::HiRes ();

sub new {
	my ($class, %o) = @_;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp')
	    or die "dns: $!";
	my (undef, $log) = tempfile('viaduct-dns-XXXXXX', TMPDIR => 1, UNLINK => 1);
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		while (1) {
			my $peer = $s->recv(my $q, 512) // next;
			if (my ($name, $type) = question($q)) {
				open(my $fh, '>>', $log) or die;
				print $fh "$name " . ({ 1 => 'A', 28 => 'AAAA' }->{$type} // $type) . "\n";
				close $fh;
			}
			my $r = answer($q, $o{records} // {}, $o{ttl} // 60);
			Time::HiRes::sleep($o{delay}) if $o{delay};
			$s->send($r, 0, $peer) if defined $r;
		}
	}
	my $self = bless { pid => $pid, port => $s->sockport, log => $log }, $class;
	close $s;
	return $self;
}

sub port { $_[0]{port} }

sub questions {
	open(my $fh, '<', $_[0]{log}) or return ();
	local $/ = "\n";	# a line each, whatever the caller's $/ is
	my @q = <$fh>;
	chomp @q;
	return @q;
}

# The question's name and type, or () when malformed.
sub question {
	my ($q) = @_;
	return () if length $q < 17;
	my ($pos, @labels) = (12);
	while (1) {
		my $n = ord substr($q, $pos, 1);
		$pos++;
		last if $n == 0;
		return () if $n > 63 || $pos + $n > length $q;
		push @labels, substr($q, $pos, $n);
		$pos += $n;
	}
	return () if $pos + 4 > length $q;
	my ($type) = unpack('n', substr($q, $pos, 2));
	return (lc join('.', @labels), $type, $pos + 4);
}

sub answer {
	my ($q, $records, $ttl) = @_;
	my ($name, $type, $end) = question($q) or return undef;
	my $id = substr($q, 0, 2);
	my $rec = $records->{$name};
	my @rr;
	if ($rec) {
		if ($type == 1) { push @rr, map { [1, inet_aton($_)] } @{ $rec->{A} // [] } }
		if ($type == 28) { push @rr, map { [28, inet_pton(AF_INET6, $_)] } @{ $rec->{AAAA} // [] } }
	}
	my $flags = 0x8400 | ($rec ? 0 : 3);	# QR, AA; NXDOMAIN when unknown
	my $r = $id . pack('nnnnn', $flags, 1, scalar @rr, 0, 0) . substr($q, 12, $end - 12);
	for my $a (@rr) {
		$r .= pack('n', 0xc00c) . pack('nnNn', $a->[0], 1, $ttl // 60, length $a->[1]) . $a->[1];
	}
	return $r;
}

sub stop {
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { local ($?, $!, $@); $_[0]->stop }

1;
