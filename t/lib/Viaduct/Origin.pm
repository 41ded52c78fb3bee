package Viaduct::Origin;
# A scriptable origin on loopback (nginx-tests' http_fake_daemon, VTest's
# `send`): records the exact bytes of every request it receives and answers
# with the bytes a handler returns.  Runs in a forked child; stopped on scope exit.
#
#   my $o = Viaduct::Origin->new(handler => sub { my ($req, $conn) = @_; return $bytes });
#   $o->port; $o->requests  # list of raw requests received, in order
#   $o->log                 # [peer "addr:port", raw request] pairs: which connection
#
# Options: raw => sub { my ($sock, $record) = @_ } takes the connection
# over entirely (for 1xx, tunnels, trickery); $record->($bytes) logs a request.
# Also port, addr (default 127.0.0.1), netns (listen inside that network
# namespace: the origin's process enters it with setns(2) before binding).
#
# $req is the raw request (head + body as framed by Content-Length or chunked);
# the handler may return undef to close without answering, or a code ref
# called with the socket for streaming tricks.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::IP;
use POSIX qw(:sys_wait_h);
use File::Temp qw(tempfile);
use Time::HiRes qw(sleep);

sub new {
	my ($class, %o) = @_;
	my (undef, $rec) = tempfile('viaduct-origin-XXXXXX', TMPDIR => 1, UNLINK => 1);
	my $handler = $o{handler} // \&default_handler;
	my $mk = sub {
		# an IPv6 address (it has colons) needs IO::Socket::IP
		my $class = ($o{addr} // '') =~ /:/ ? 'IO::Socket::IP' : 'IO::Socket::INET';
		$class->new(Listen => 128, LocalHost => $o{addr} // '127.0.0.1',
		    LocalPort => $o{port} // 0, Proto => 'tcp', ReuseAddr => 1) or die "origin: $!";
	};
	my $srv = $o{netns} ? undef : $mk->();
	pipe(my $rp, my $wp) or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		close $rp;
		setpgrp(0, 0);	# its connection children too go when stopped
		if ($o{netns}) {
			setns_net($o{netns});
			$srv = $mk->();
		}
		syswrite($wp, $srv->sockport . "\n");
		close $wp;
		$SIG{CHLD} = 'IGNORE';
		while (my $c = $srv->accept) {
			my $k = fork;
			if (defined $k && $k == 0) {
				close $srv;
				if ($o{raw}) {
					$c->autoflush(1);
					my $peer = $c->peerhost . ':' . $c->peerport;
					$o{raw}->($c, sub { record($rec, $peer, $_[0]) });
					close $c;
					POSIX::_exit(0);
				}
				serve($c, $handler, $rec);
				POSIX::_exit(0);
			}
			close $c;
		}
		POSIX::_exit(0);
	}
	close $wp;
	my $port = <$rp>;
	die "origin did not start" unless defined $port;
	chomp $port;
	my $self = bless { pid => $pid, port => $port, rec => $rec }, $class;
	close $srv if $srv;
	return $self;
}

# Enter the network namespace /run/netns/NAME (ip netns add NAME): this
# process only.  setns(2) is syscall 308 on x86_64, 268 on aarch64.
sub setns_net {
	my ($name) = @_;
	open(my $fh, '<', "/run/netns/$name") or die "netns $name: $!";
	require Config;
	my $nr = $Config::Config{archname} =~ /aarch64/ ? 268 : 308;
	syscall($nr, fileno($fh), 0x40000000) == 0 or die "setns $name: $!";
	close $fh;
}

sub port { $_[0]{port} }

sub default_handler {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $body = "hello from origin: $path\n";
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .
	    length($body) . "\r\n\r\n$body";
}

# Read one request: head, then a body framed by Content-Length or chunked.
sub read_request {
	my ($c, $bufref) = @_;
	while ($$bufref !~ /\r?\n\r?\n/) {
		my $n = sysread($c, $$bufref, 65536, length $$bufref);
		return undef if !$n;
	}
	$$bufref =~ /\r?\n\r?\n/;
	my $hlen = $+[0];
	my $head = substr($$bufref, 0, $hlen);
	my $need = $hlen;
	if ($head =~ /^transfer-encoding:[^\r\n]*chunked/mi) {
		my $pos = $hlen;
		while (1) {
			my $rest = substr($$bufref, $pos);
			if ($rest =~ /^([0-9a-fA-F]+)[^\r\n]*\r\n/) {
				my $sz = hex $1;
				if ($sz == 0) {
					# trailers until an empty line
					if (substr($$bufref, $pos) =~ /^0[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/) {
						$need = $pos + $+[0];
						last;
					}
				} elsif (length($rest) >= $+[0] + $sz + 2) {
					$pos += $+[0] + $sz + 2;
					next;
				}
			}
			my $n = sysread($c, $$bufref, 65536, length $$bufref);
			return undef if !$n;
		}
	} elsif ($head =~ /^content-length:\s*(\d+)/mi) {
		$need = $hlen + $1;
	}
	while (length($$bufref) < $need) {
		my $n = sysread($c, $$bufref, 65536, length $$bufref);
		return undef if !$n;
	}
	return substr($$bufref, 0, $need, '');
}

sub serve {
	my ($c, $handler, $rec) = @_;
	$c->autoflush(1);
	my $peer = $c->peerhost . ':' . $c->peerport;
	my $buf = '';
	while (defined(my $req = read_request($c, \$buf))) {
		record($rec, $peer, $req);
		my $resp = $handler->($req, $c);
		last if !defined $resp;
		if (ref $resp eq 'CODE') { $resp->($c); last }
		print $c $resp;
		last if $resp =~ /^connection:\s*close/mi || $req =~ /^connection:\s*close/mi;
	}
	close $c;
}

sub record {
	my ($rec, $peer, $req) = @_;
	open(my $fh, '>>', $rec) or die;
	flock($fh, 2);
	print $fh pack('N', length $req), $req, pack('N', length $peer), $peer;
	close $fh;
}

# Every request received so far, raw, in arrival order.
sub requests { map { $_->[1] } $_[0]->log }

# [peer, raw request] for every request so far; the peer ("addr:port" of
# the connecting side) tells which requests shared a connection.
sub log {
	my ($self) = @_;
	open(my $fh, '<', $self->{rec}) or return ();
	local $/;
	my $all = <$fh> // '';
	my @r;
	while (length $all >= 4) {
		my $n = unpack('N', substr($all, 0, 4, ''));
		my $req = substr($all, 0, $n, '');
		my $m = unpack('N', substr($all, 0, 4, ''));
		push @r, [ substr($all, 0, $m, ''), $req ];
	}
	return @r;
}

sub clear { open(my $fh, '>', $_[0]{rec}) or die; close $fh }

sub stop {
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', -$self->{pid};	# the process group: no handler left sleeping
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { local ($?, $!, $@); $_[0]->stop }

1;
