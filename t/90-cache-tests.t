#!/usr/bin/perl
# The independent HTTP cache test suite (cache-tests.fyi, npm package
# http-cache-tests@0.4.5) against viaduct as a surrogate: the suite's own
# origin (server/server.mjs) behind a reverse listener, its client (cli.mjs)
# in front.  Every outcome is compared with t/cache-tests.expect: a test
# expected to pass that does not is a failure; a test that passes now but
# is not expected to is reported, so that the baseline is tightened.
#
# VIADUCT_CACHE_TESTS names the unpacked package with its dependencies
# installed (README's test command sets it):
#   npm install --prefix "$HOME/.cache/viaduct-ct" http-cache-tests@0.4.5
#   VIADUCT_CACHE_TESTS=$HOME/.cache/viaduct-ct/node_modules/http-cache-tests
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(:sys_wait_h);
use Viaduct::Test;

my $version = '0.4.5';
my $pkg = $ENV{VIADUCT_CACHE_TESTS};
unless (defined $pkg && $pkg ne '') {
	fail('VIADUCT_CACHE_TESTS is not set: install the suite with ' .
	    "`npm install --prefix \"\$HOME/.cache/viaduct-ct\" http-cache-tests\@$version` and set " .
	    'VIADUCT_CACHE_TESTS=$HOME/.cache/viaduct-ct/node_modules/http-cache-tests (README)');
	done_testing();
	exit;
}
my $pj = slurp("$pkg/package.json") // '';
my ($have) = $pj =~ /"version":\s*"([^"]+)"/;
is($have, $version, "VIADUCT_CACHE_TESTS=$pkg holds http-cache-tests $version") or do {
	done_testing();
	exit;
};
my ($st, $nv) = run_cmd(['node', '--version']);
ok($st == 0 && $nv =~ /^v\d+/, 'node runs (' . ($nv =~ s/\s+//gr) . ')') or do {
	done_testing();
	exit;
};

my %expect;
my $ef = "$FindBin::Bin/cache-tests.expect";
open(my $efh, '<', $ef) or die "$ef: $!";
while (<$efh>) {
	next if /^\s*(#|$)/;
	my ($id, $outcome) = split;
	$expect{$id} = $outcome;
}
close $efh;

my $dir = tmpdir_keep();
my $op = free_port();
# the suite's origin, on loopback; it writes a pid file into its working directory
my $spid = fork // die "fork: $!";
if ($spid == 0) {
	chdir $dir or die "$dir: $!";
	@ENV{qw(npm_config_protocol npm_config_port npm_config_pidfile)} =
	    ('http', $op, "$dir/server.pid");
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', "$dir/server.log");
	open(STDERR, '>&', \*STDOUT);
	exec('node', "$FindBin::Bin/90-cache-tests.mjs", 'serve', $pkg) or POSIX::_exit(127);
}
END { local $?; if ($spid) { kill 'TERM', $spid; waitpid($spid, 0) } }
ok(wait_port($op), "the suite's origin listens on $op") or diag(slurp("$dir/server.log") // '');

# The client's Host is 127.0.0.1:PORT; reverse-origins compares it without
# the port.  A cache big enough for every test object, on disk.
my $conf = default_conf() =~ s{cache-path=\@DIR\@/cache}
    {cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=256MiB}r .
    "set reverse-ports=\@PORT\@ reverse-origins=127.0.0.1=127.0.0.1:$op\n";
my $v = start_viaduct(dir => $dir, conf => $conf);
my $port = $v->port;

# cli.mjs reads its base URL and test id the way `npm run` passes them
my ($cst, $out, $err) = run_cmd(['node', '--no-warnings', "$pkg/cli.mjs"],
    env => { npm_config_base => "http://127.0.0.1:$port", npm_config_id => '',
	npm_package_config_id => '' }, timeout => 900);
is($cst, 0, 'cli.mjs ran to its end') or diag($err);
spew("$dir/results.json", $out);
my $n = () = $out =~ /^  "[^"]+": /mg;
ok($n > 300, "cli.mjs reported $n results") or diag(substr($out, 0, 2000) . $err);

my ($kst, $lines, $kerr) = run_cmd(['node', '--no-warnings', "$FindBin::Bin/90-cache-tests.mjs",
    'classify', $pkg, "$dir/results.json"]);
is($kst, 0, 'results classified') or diag($kerr);

my (%got, %detail, %count);
for (split /\n/, $lines) {
	my ($id, $outcome, $d) = split / /, $_, 3;
	$got{$id} = $outcome;
	$detail{$id} = $d // '';
	$count{$outcome}++;
}
diag('cache-tests.fyi: ' . join(', ', map { "$_ $count{$_}" } sort keys %count));

my (@regressed, @better, @changed, @unknown);
my %good = map { $_ => 1 } qw(pass yes);
for my $id (sort keys %got) {
	my ($e, $g) = ($expect{$id}, $got{$id});
	if (!defined $e) {
		push @unknown, "$id: $g (not in t/cache-tests.expect)";
	} elsif ($good{$e} && $e ne $g) {
		push @regressed, "$id: expected $e, got $g $detail{$id}";
	} elsif (!$good{$e} && $good{$g}) {
		push @better, "$id: expected $e, now $g";
	} elsif ($e ne $g) {
		push @changed, "$id: expected $e, got $g $detail{$id}";
	}
}
my @missing = grep { !exists $got{$_} } sort keys %expect;
is(scalar @regressed, 0, 'no test expected to pass fails') or diag("regressed:\n  " . join("\n  ", @regressed));
is(scalar @missing, 0, 'every expected test ran') or diag("missing:\n  " . join("\n  ", @missing));
is(scalar @unknown, 0, 'every test that ran is in the baseline') or diag(join("\n  ", '', @unknown));
diag("now passing, tighten t/cache-tests.expect:\n  " . join("\n  ", @better)) if @better;
diag("other changes (not failures):\n  " . join("\n  ", @changed)) if @changed;
ok(alive($v->pid), 'viaduct is still running');

done_testing();
