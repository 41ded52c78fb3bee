package Viaduct::Test;
# Starts the real viaduct binary with a config written to a temp dir, on free
# loopback ports, and stops it when the guard goes out of scope.  A viaduct
# that died of a signal, or left a core, fails the test.
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Test::More;

our @EXPORT = qw(viaduct_bin viaductctl_bin free_port wait_port start_viaduct read_until_close
    http_raw http_get slurp spew tmpdir_keep run_cmd proc_status wait_until
    default_conf src_dir alive undate);

my $top = $ENV{VIADUCT_BUILD} // do {
	my $d = __FILE__; $d =~ s{/t/lib/Viaduct/Test\.pm$}{}; $d eq __FILE__ ? '.' : $d;
};

sub viaduct_bin    { "$top/src/viaduct" }
# The source tree (for contrib/ scripts), wherever the build is.
sub src_dir { my $d = __FILE__; $d =~ s{/?t/lib/Viaduct/Test\.pm$}{}; $d eq '' ? '.' : $d }
sub viaductctl_bin { "$top/src/viaductctl" }

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return undef; local $/; my $s = <$fh>; $s }
sub spew  { my ($f, $s) = @_; open(my $fh, '>', $f) or die "$f: $!"; print $fh $s; close $fh }

my %used;
# A loopback port nobody listens on now (and we did not hand out before).
sub free_port {
	for (1 .. 100) {
		my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
		    LocalPort => 0, Proto => 'tcp', ReuseAddr => 1) or die "socket: $!";
		my $p = $s->sockport;
		close $s;
		next if $used{$p}++;
		return $p;
	}
	die "no free port";
}

# Wait until something accepts on host:port (default 10 s).
sub wait_port {
	my ($port, $host, $timeout) = @_;
	$host //= '127.0.0.1';
	my $end = time + ($timeout // 10);
	while (time < $end) {
		my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp');
		if ($s) { close $s; return 1 }
		sleep 0.05;
	}
	return 0;
}

# Send raw bytes, read until the peer closes or `timeout` seconds of silence.
# Every IMF-fixdate in a Date field as "D": viaduct adds Date to a
# response that came without one (RFC 9110 §6.6.1), and tests that compare
# heads byte for byte do so without the clock.
sub undate {
	my ($s) = @_;
	$s =~ s/\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/\r\nDate: D\r\n/g
	    if defined $s;
	return $s;
}

sub http_raw {
	my ($port, $bytes, %o) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => $o{host} // '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 5) or return undef;
	$s->autoflush(1);
	print $s $bytes;
	shutdown($s, 1) if $o{half_close};
	my $buf = '';
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	my $timeout = $o{timeout} // 5;
	while (1) {
		my $r = select(my $rout = $rin, undef, undef, $timeout);
		last if $r <= 0;
		my $n = sysread($s, $buf, 65536, length $buf);
		last if !$n;
		last if $o{until} && $buf =~ $o{until};
	}
	close $s;
	return $buf;
}

# Everything a socket still gives until the peer closes it, an error, or
# `timeout` seconds (default 10) without a byte: a safety net, not an
# assertion.
sub read_until_close {
	my ($s, $timeout) = @_;
	my ($buf, $rin) = ('', '');
	vec($rin, fileno($s), 1) = 1;
	while (select(my $r = $rin, undef, undef, $timeout // 10)) {
		last unless sysread($s, $buf, 1 << 20, length $buf);
	}
	return $buf;
}

# GET an absolute URL through the proxy on `port`, HTTP/1.1, Connection: close.
sub http_get {
	my ($port, $url, %o) = @_;
	my ($host) = $url =~ m{^http://([^/]+)};
	my $extra = $o{headers} // '';
	return http_raw($port, "GET $url HTTP/1.1\r\nHost: $host\r\n${extra}Connection: close\r\n\r\n", %o);
}

sub tmpdir_keep { tempdir('viaduct-t-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{VIADUCT_KEEP}) }

# start_viaduct(conf => TEXT with @PORT@/@DIR@ placeholders, port => N, args => [...])
# Returns a guard: {pid, port, dir, conf, log}.  Foreground (-F) unless daemon => 1.
# tmpfs => [SUBDIR, SIZE]: a tmpfs of SIZE (e.g. "64k") mounted on @DIR@/SUBDIR
# in a private mount namespace around viaduct (root only; gone when it
# exits); the test reaches it as /proc/PID/root@DIR@/SUBDIR.
sub start_viaduct {
	my (%o) = @_;
	my $dir = $o{dir} // tmpdir_keep();
	my $port = $o{port} // free_port();
	my $conf = $o{conf} // default_conf();
	$conf =~ s/\@PORT\@/$port/g;
	$conf =~ s/\@DIR\@/$dir/g;
	my $cf = "$dir/viaduct.conf";
	spew($cf, $conf);
	my $log = "$dir/stderr.log";
	my @args = (viaduct_bin(), ($o{daemon} ? () : ('-F')), '-f', $cf, @{ $o{args} // [] });
	if (my $t = $o{tmpfs}) {
		mkdir "$dir/$t->[0]";
		@args = ('unshare', '-m', '--propagation', 'private', 'sh', '-c',
		    'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"', 'sh',
		    $t->[1], "$dir/$t->[0]", @args);
	}
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		$ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log);
		open(STDERR, '>>', $log);
		exec @args or die "exec: $!";
	}
	my $self = bless { pid => $pid, port => $port, dir => $dir, conf => $cf,
	    log => $log, daemon => $o{daemon} }, __PACKAGE__;
	if ($o{daemon}) {
		waitpid($pid, 0);
		$self->{exit} = $?;
		$self->{pid} = undef;
		my $pf = "$dir/viaduct.pid";
		for (1 .. 100) { last if -s $pf; sleep 0.05 }
		my $p = slurp($pf);
		$self->{pid} = $1 if defined $p && $p =~ /(\d+)/;
		$self->{reaped} = 1;
	}
	unless ($o{no_wait}) {
		wait_port($port) or do {
			diag("viaduct did not start listening on $port; log:\n" . (slurp($log) // '') .
			    (slurp("$dir/error.log") // ''));
		};
	}
	return $self;
}

# The development-style config every test starts from.
sub default_conf {
	return <<'CONF';
/ip proxy
set enabled=yes port=@PORT@ cache-path=@DIR@/cache
/viaduct
set workers=2 listen-address=127.0.0.1 pid-file=@DIR@/viaduct.pid run-dir=@DIR@/run \
    error-log=@DIR@/error.log access-log=@DIR@/access.log log-level=info
CONF
}

# run_cmd([argv], env => {...}, timeout => s, as => 'nobody'): runs a command
# with stdout and stderr captured separately; kills it after `timeout` s.
# Returns (exit status as from wait, stdout, stderr).
sub run_cmd {
	my ($argv, %o) = @_;
	my $d = tempdir('viaduct-cmd-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my @argv = @$argv;
	@argv = ('setpriv', "--reuid=$o{as}", "--regid=" . ($o{group} // 'nogroup'),
	    '--clear-groups', @argv) if $o{as};
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		$ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', "$d/out");
		open(STDERR, '>', "$d/err");
		exec @argv or POSIX::_exit(127);
	}
	my $end = time + ($o{timeout} // 30);
	my $st;
	while (1) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) { $st = $?; last }
		if (time > $end) { kill 'KILL', $pid; waitpid($pid, 0); $st = -1; last }
		sleep 0.02;
	}
	return ($st, slurp("$d/out") // '', slurp("$d/err") // '');
}

# The process exists and is not a zombie (a daemon may be reparented to a
# subreaper that reaps it late).
sub alive {
	my ($pid) = @_;
	return 0 unless $pid && kill(0, $pid);
	my $st = proc_status($pid) // return 0;
	return ($st->{State} // '') !~ /^Z/;
}

# /proc/PID/status as a hash (Uid, CapEff, NoNewPrivs ...), or undef.
sub proc_status {
	my ($pid) = @_;
	my $s = slurp("/proc/$pid/status") // return undef;
	my %h = $s =~ /^(\w+):\s*(.*?)\s*$/mg;
	return \%h;
}

# Poll `cond` (a code ref) every 50 ms for up to `timeout` s; its last value.
sub wait_until {
	my ($cond, $timeout) = @_;
	my $end = time + ($timeout // 10);
	while (1) {
		my $v = $cond->();
		return $v if $v || time > $end;
		sleep 0.05;
	}
}

sub pid  { $_[0]{pid} }
sub errlog { "$_[0]{dir}/error.log" }

# Wait until the error log matches `re` (default 10 s); returns the log text or undef.
sub wait_log {
	my ($self, $re, $timeout) = @_;
	return wait_until(sub { my $l = slurp($self->errlog) // ''; $l =~ $re ? $l : undef },
	    $timeout);
}

# Rewrite the config (same @PORT@/@DIR@ substitution as at start).
sub write_conf {
	my ($self, $conf) = @_;
	my ($port, $dir) = ($self->{port}, $self->{dir});
	$conf =~ s/\@PORT\@/$port/g;
	$conf =~ s/\@DIR\@/$dir/g;
	spew($self->{conf}, $conf);
}
sub port { $_[0]{port} }
sub dir  { $_[0]{dir} }

# Children of the master (workers and cache manager), from /proc.
sub children {
	my ($self) = @_;
	my @c;
	for my $st (glob "/proc/[0-9]*/stat") {
		my $s = slurp($st) // next;
		my ($pid, $ppid) = $s =~ /^(\d+) \(.*\) \S (\d+)/s or next;
		push @c, $pid if $ppid == $self->{pid};
	}
	return sort { $a <=> $b } @c;
}

sub signal { my ($self, $sig) = @_; kill $sig, $self->{pid} }

# Stop with TERM, wait up to `timeout` s; returns the wait status.
sub stop {
	my ($self, %o) = @_;
	my $pid = $self->{pid} or return $self->{status};
	kill($o{signal} // 'TERM', $pid);
	my $end = time + ($o{timeout} // 15);
	while (time < $end) {
		if ($self->{reaped}) {
			if (!alive($pid)) { $self->{status} = 0; last }
		} else {
			my $r = waitpid($pid, WNOHANG);
			if ($r == $pid) { $self->{status} = $?; last }
		}
		sleep 0.05;
	}
	if (!defined $self->{status}) {
		kill 'KILL', $pid;
		waitpid($pid, 0) unless $self->{reaped};
		$self->{status} = -1;
	}
	$self->{pid} = undef;
	return $self->{status};
}

sub DESTROY {
	my ($self) = @_;
	local ($?, $!, $@);
	return unless $self->{pid};
	my $st = $self->stop;
	if ($st != 0 && $st != -1 && ($st & 127)) {
		Test::More::fail("viaduct died of signal " . ($st & 127));
	}
	if ($st == -1) {
		Test::More::fail("viaduct did not stop on TERM");
	}
}

1;
