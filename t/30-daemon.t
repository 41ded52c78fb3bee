#!/usr/bin/perl
# The daemon's life: -v/-t/usage, foreground and daemon modes, the pid-file
# lock, the init script, and bad input that must stop start-up with one line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $bin = viaduct_bin();
my $ctl = viaductctl_bin();

# --- command line -----------------------------------------------------------
{
	my ($st, $out) = run_cmd([$bin, '-v']);
	is($st, 0, '-v exits 0');
	like($out, qr/^viaduct \d+\.\d+\.\d+$/m, '-v prints the version');

	($st, $out, my $err) = run_cmd([$bin, '-x']);
	is($st >> 8, 1, 'bad option exits 1');
	like($err, qr/^usage: viaduct /m, 'bad option prints the usage line');

	my $dir = tmpdir_keep();
	my $c = default_conf() =~ s/\@PORT\@/8080/gr =~ s/\@DIR\@/$dir/gr;
	spew("$dir/good.conf", $c);
	($st, $out, $err) = run_cmd([$bin, '-t', '-f', "$dir/good.conf"]);
	is($st, 0, '-t on a good config exits 0');
	is($out, "$dir/good.conf: configuration OK\n", '-t says configuration OK');

	spew("$dir/bad.conf", "/ip proxy\nset enabled=yes port=8080\n/viaduct\nset no-such-thing=1\n");
	($st, $out, $err) = run_cmd([$bin, '-t', '-f', "$dir/bad.conf"]);
	is($st >> 8, 1, '-t on a bad config exits 1');
	like($err, qr{\Q$dir\E/bad\.conf:4:\d+: }, '-t names FILE:LINE:COL');
	unlike($out, qr/configuration OK/, 'and does not claim it is OK');
}

# --- foreground -----------------------------------------------------------------
my $origin = Viaduct::Origin->new;
my $oport = $origin->port;
{
	my $v = start_viaduct();
	my $r = http_get($v->port, "http://127.0.0.1:$oport/fg");
	like($r // '', qr{\AHTTP/1\.1 200 .*hello from origin: /fg\n\z}s,
	    'foreground: a GET through the proxy returns the origin body');
	my $pf = slurp($v->dir . '/viaduct.pid');
	is($pf, $v->pid . "\n", 'the pid file holds the master pid');
	my ($st, $out) = run_cmd([$ctl, '-f', $v->{conf}, 'status']);
	is($st, 0, 'viaductctl status: running, exit 0');
	like($out, qr/running \(pid ${\ $v->pid}\)/, 'viaductctl status names the pid');
	is($v->stop, 0, 'TERM: foreground master exits 0');
	ok(!-e $v->dir . '/viaduct.pid', 'the pid file is removed at exit');
	($st, undef, my $err) = run_cmd([$ctl, '-f', $v->{conf}, 'status']);
	is($st >> 8, 3, 'viaductctl status when stopped: exit 3');
	like($err, qr/not running/, 'viaductctl status says not running');
}
{
	# -F with error-log=stderr: the log goes to the terminal
	my $v = start_viaduct(conf => default_conf() =~ s{error-log=\S+}{error-log=stderr}r);
	ok(wait_until(sub { (slurp($v->{log}) // '') =~ /\[notice\] master pid \d+: started/ }),
	    '-F with error-log=stderr logs on stderr');
	is($v->stop, 0, 'and stops with 0');
}

# --- daemon mode, pid-file lock ---------------------------------------------------
{
	my $v = start_viaduct(daemon => 1);
	is($v->{exit}, 0, 'daemon: the starting process exits 0 once serving');
	ok($v->pid, 'daemon: pid file written');
	my $stat = slurp('/proc/' . $v->pid . '/stat') // '';
	my ($ppid, $pgrp, $sid) = $stat =~ /^\d+ \(.*\) \S (\d+) (\d+) (\d+)/s;
	ok(defined $sid && $sid != $$ && $sid != getpgrp(), 'daemon: in its own session');
	isnt($sid // 0, $v->pid, 'daemon: not a session leader (double fork)');
	my $r = http_get($v->port, "http://127.0.0.1:$oport/d");
	like($r // '', qr{hello from origin: /d\n\z}, 'daemon: serves');

	my ($st, $out, $err) = run_cmd([$bin, '-f', $v->{conf}]);
	is($st >> 8, 1, 'second instance: exit 1');
	is($err, "viaduct: pid file " . $v->dir . "/viaduct.pid is locked by pid " . $v->pid .
	    ": already running\n", 'second instance: one line naming the lock holder');
	($st, $out, $err) = run_cmd([$bin, '-F', '-f', $v->{conf}]);
	is($st >> 8, 1, 'second instance in foreground: exit 1 too');
	ok(kill(0, $v->pid), 'the first instance is still running');

	($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'stop']);
	is($st, 0, 'viaductctl stop: exit 0 once the master is gone');
	ok(!alive($v->pid), 'the daemon is gone');
	$v->{pid} = undef;

	# started with its stdout and stderr on a pipe (viaduct | cat, $(...),
	# ssh): the pipe ends when the command returns, whatever the daemon's
	# workers and cache manager do (they kept the caller's ends)
	my $pid = open(my $pipe, '-|') // die "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT);
		exec $bin, '-f', $v->{conf} or POSIX::_exit(127);
	}
	my $eof = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 20;
		1 while <$pipe>;
		alarm 0;
		1;
	};
	ok($eof, 'daemon: its stdout and stderr reach EOF once it serves');
	close $pipe;
	my $p = slurp($v->dir . '/viaduct.pid');
	ok(defined $p && $p =~ /(\d+)/ && alive($1), 'and it serves');
	run_cmd([$ctl, '-f', $v->{conf}, 'stop']);
}

# --- a pid file in run-dir, which does not exist yet (a tmpfs after a reboot) ----------
{
	my $v = start_viaduct(conf => default_conf() =~ s{pid-file=\S+}{pid-file=\@DIR\@/run/viaduct.pid}r);
	ok(wait_port($v->port), 'pid file in a run-dir not yet made: started');
	like(slurp($v->dir . '/run/viaduct.pid') // '', qr/^\d+\n/, '... and the pid file is there');
	is($v->stop, 0, '... stops');
}

# --- init script ------------------------------------------------------------------
{
	my $dir = tmpdir_keep();
	my $port = free_port();
	my $c = default_conf() =~ s/\@PORT\@/$port/gr =~ s/\@DIR\@/$dir/gr;
	spew("$dir/viaduct.conf", $c);
	my $init = src_dir() . '/contrib/init.d/viaduct';
	my %env = (VIADUCT_BIN => $bin, VIADUCT_CONF => "$dir/viaduct.conf",
	    PIDFILE => "$dir/viaduct.pid");
	my ($st, $out, $err) = run_cmd(['sh', $init, 'start'], env => \%env);
	is($st, 0, 'init start: exit 0') or diag("$out$err");
	my $pid = (slurp("$dir/viaduct.pid") // '') =~ /(\d+)/ ? $1 : 0;
	ok(alive($pid), 'init start: daemon running, pid file written');
	ok(wait_port($port), 'init start: listening');
	($st, $out, $err) = run_cmd(['sh', $init, 'status'], env => \%env);
	is($st, 0, 'init status: 0 while running') or diag("$out$err");
	($st, $out, $err) = run_cmd(['sh', $init, 'configtest'], env => \%env);
	is($st, 0, 'init configtest: 0') or diag("$out$err");
	($st, $out, $err) = run_cmd(['sh', $init, 'reload'], env => \%env);
	is($st, 0, 'init reload: 0') or diag("$out$err");
	ok(wait_until(sub { (slurp("$dir/error.log") // '') =~ /reloaded: generation 1/ }),
	    'init reload: the master reloaded');
	my $r = http_get($port, "http://127.0.0.1:$oport/init");
	like($r // '', qr{hello from origin: /init\n\z}, 'serves after the reload');
	($st, $out, $err) = run_cmd(['sh', $init, 'stop'], env => \%env);
	is($st, 0, 'init stop: 0') or diag("$out$err");
	ok(!alive($pid), 'init stop: the master is gone');
	($st, $out, $err) = run_cmd(['sh', $init, 'status'], env => \%env);
	is($st >> 8, 3, 'init status: 3 when stopped');
	# what a master running as its user leaves in a root-owned directory
	spew("$dir/viaduct.pid", '');
	($st, $out, $err) = run_cmd(['sh', $init, 'status'], env => \%env);
	is($st >> 8, 3, 'init status: 3 with an empty pid file');
	# removed, not purged (Debian Policy 9.3.2)
	my %gone = (%env, VIADUCT_BIN => "$dir/no-such-viaduct");
	($st, $out, $err) = run_cmd(['sh', $init, 'start'], env => \%gone);
	is($st, 0, 'init start without the binary: 0, nothing done');
	($st, $out, $err) = run_cmd(['sh', $init, 'status'], env => \%gone);
	is($st >> 8, 3, 'init status without the binary: 3');
	kill 'KILL', $pid if $pid && kill(0, $pid);
}

# --- bad input: one line on stderr, exit 1 ---------------------------------------
# Each case runs in the foreground so that a start that wrongly succeeds
# cannot leave a daemon behind; run_cmd kills it after the timeout.
sub refuses {
	my ($name, $argv, $re, %o) = @_;
	my ($st, $out, $err) = run_cmd($argv, timeout => 10, %o);
	is($st >> 8, 1, "$name: exit 1") or diag("status $st\n$out$err");
	my @lines = split /\n/, $err;
	is(scalar @lines, 1, "$name: exactly one line on stderr") or diag($err);
	like($err, $re, "$name: says why");
}

sub bad_conf {
	my ($dir, $edit) = @_;
	my $port = free_port();
	my $c = default_conf() =~ s/\@PORT\@/$port/gr =~ s/\@DIR\@/$dir/gr;
	$c = $edit->($c, $port) if $edit;
	spew("$dir/viaduct.conf", $c);
	return ("$dir/viaduct.conf", $port);
}

{
	my $dir = tmpdir_keep();
	refuses('missing config', [$bin, '-F', '-f', "$dir/nope.conf"],
	    qr{^viaduct: cannot read configuration \Q$dir\E/nope\.conf: No such file or directory$});
	refuses('a directory as config', [$bin, '-F', '-f', $dir],
	    qr{^viaduct: cannot read configuration \Q$dir\E: not a regular file$});

	my $pub = tmpdir_keep();
	chmod 0755, $pub;
	mkdir "$pub/locked", 0700;
	spew("$pub/locked/viaduct.conf", "/ip proxy\nset port=8080\n");
	chmod 0000, "$pub/locked";
	refuses('unreadable config (as nobody)', [$bin, '-F', '-f', "$pub/locked/viaduct.conf"],
	    qr{^viaduct: cannot read configuration \Q$pub\E/locked/viaduct\.conf: Permission denied$},
	    as => 'nobody');
	chmod 0700, "$pub/locked";

	my ($cf, $port) = bad_conf($dir);
	my $hold = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
	    LocalPort => $port, Proto => 'tcp', ReuseAddr => 1) or die "hold: $!";
	refuses('port in use', [$bin, '-F', '-f', $cf],
	    qr{^viaduct: cannot listen on 127\.0\.0\.1:$port: Address already in use$});
	close $hold;
	ok(!-e "$dir/viaduct.pid", 'port in use: no pid file left behind');

	($cf) = bad_conf($dir, sub { $_[0] . "/viaduct\nset user=nosuchuser-vd\n" });
	refuses('nonexistent user', [$bin, '-F', '-f', $cf],
	    qr{^viaduct: user nosuchuser-vd does not exist$});

	# a cache path nobody cannot write (root-owned 0755), with user=nobody
	my $cd = tmpdir_keep();
	chmod 0755, $cd;
	mkdir "$cd/cache", 0755;
	($cf) = bad_conf($cd, sub { $_[0] . "/viaduct\nset user=nobody group=nogroup\n" });
	refuses('cache path not writable', [$bin, '-F', '-f', $cf],
	    qr{^viaduct: cache path \Q$cd\E/cache is not writable by nobody: Permission denied$});

	# a cache path that cannot be created (its parent is a file)
	spew("$dir/plainfile", "x");
	($cf) = bad_conf($dir, sub { $_[0] =~ s{cache-path=\S+}{cache-path=$dir/plainfile/cache}r });
	refuses('cache path cannot be created', [$bin, '-F', '-f', $cf],
	    qr{^viaduct: cannot create cache path \Q$dir\E/plainfile/cache: Not a directory$});

	# cache path created when missing, and handed to the user
	my $nd = tmpdir_keep();
	chmod 0755, $nd;
	my $v = start_viaduct(dir => $nd,
	    conf => default_conf() . "/viaduct\nset user=nobody group=nogroup\n");
	my @st = stat("$nd/cache");
	ok(@st && -d _, 'missing cache path created');
	is($st[4] // -1, scalar getpwnam('nobody'), 'and owned by the configured user');
	is($v->stop, 0, 'and that instance stops with 0');
}

done_testing();
