package Viaduct::Origin;
# A scriptable origin on loopback (nginx-tests' http_fake_daemon, VTest's
# `send`): records the exact bytes of every request it receives and answers
# with the bytes a handler returns.  Runs in a forked child; stopped on scope exit.
#
#   my $o = Viaduct::Origin->new(handler => sub { my ($req, $conn) = @_; return $bytes });
#   $o->port; $o->requests  # list of raw requests received, in order
#
# $req is the raw request (head + body as framed by Content-Length or chunked);
# the handler may return undef to close without answering, or a code ref
# called with the socket for streaming tricks.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use File::Temp qw(tempfile);
use Time::HiRes qw(sleep);

sub new {
	my ($class, %o) = @_;
	my $srv = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1',
	    LocalPort => $o{port} // 0, Proto => 'tcp', ReuseAddr => 1) or die "origin: $!";
	my (undef, $rec) = tempfile('viaduct-origin-XXXXXX', TMPDIR => 1, UNLINK => 1);
	my $handler = $o{handler} // \&default_handler;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		$SIG{CHLD} = 'IGNORE';
		while (my $c = $srv->accept) {
			my $k = fork;
			if (defined $k && $k == 0) {
				close $srv;
				serve($c, $handler, $rec);
				POSIX::_exit(0);
			}
			close $c;
		}
		POSIX::_exit(0);
	}
	my $self = bless { pid => $pid, port => $srv->sockport, rec => $rec }, $class;
	close $srv;
	return $self;
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
	my $buf = '';
	while (defined(my $req = read_request($c, \$buf))) {
		open(my $fh, '>>', $rec) or die;
		flock($fh, 2);
		print $fh pack('N', length $req), $req;
		close $fh;
		my $resp = $handler->($req, $c);
		last if !defined $resp;
		if (ref $resp eq 'CODE') { $resp->($c); last }
		print $c $resp;
		last if $resp =~ /^connection:\s*close/mi || $req =~ /^connection:\s*close/mi;
	}
	close $c;
}

# Every request received so far, raw, in arrival order.
sub requests {
	my ($self) = @_;
	open(my $fh, '<', $self->{rec}) or return ();
	local $/;
	my $all = <$fh> // '';
	my @r;
	while (length $all >= 4) {
		my $n = unpack('N', substr($all, 0, 4, ''));
		push @r, substr($all, 0, $n, '');
	}
	return @r;
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
