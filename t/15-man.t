#!/usr/bin/perl
# The manual pages: mandoc -Tlint is clean on all three, and viaduct.conf(5)
# documents exactly the properties of src/conf_tbl.h, each with its default.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;

my $src = "$FindBin::Bin/..";
my @pages = qw(man/viaduct.8 man/viaduct.conf.5 man/viaductctl.8);

my $mandoc = (grep { -x "$_/mandoc" } split /:/, $ENV{PATH} // '')[0];
ok(defined $mandoc, "mandoc is installed") or BAIL_OUT("mandoc is needed (apt-get install mandoc)");

# Two STYLE-level notices are about this machine, not about the pages: a
# referenced page that is not installed (our own pages are not, while
# testing) and mandoc's note that the system's mandoc.db is stale.  Every
# other message fails; WARNING and ERROR levels must be silent.
my $env = qr/^mandoc: \S+: STYLE: referenced manual not found: Xr \S+ \d\w*(?: \(\d+ times\))?$|^mandoc: outdated mandoc\.db/;
for my $p (@pages) {
	my $f = "$src/$p";
	ok(-f $f, "$p exists") or next;
	my $out = `mandoc -Tlint '$f' 2>&1`;
	my @bad = grep { length && !/$env/ } split /\n|(?=mandoc: )/, $out;
	is_deeply(\@bad, [], "$p: mandoc -Tlint is clean") or diag($out);
	my $strict = `mandoc -Tlint -Wwarning '$f' 2>&1`;
	my $st = $? >> 8;
	is($strict, '', "$p: no WARNING or ERROR");
	is($st, 0, "$p: mandoc -Tlint -Wwarning exits 0");
}

# property names and defaults, conf_tbl.h <-> viaduct.conf.5
my $tbl = slurp("$src/src/conf_tbl.h") // '';
my %dflt;
while ($tbl =~ /^CONF_PROP\("([a-z-]+)",[^"]*?(?:([A-Z]+) )?"([^"]*)"/mg) {
	$dflt{$1} = [ $2, $3 ];
}
ok(keys(%dflt) >= 30, "conf_tbl.h parsed: " . scalar(keys %dflt) . " properties");

my $man = slurp("$src/man/viaduct.conf.5") // '';
my %item;	# name -> text up to the next .It/.El
while ($man =~ /^\.It Ic ([a-z-]+)(?: Ns| |$)(.*?)(?=^\.It |^\.El)/msg) {
	$item{$1} = $2;
}
for my $name (sort keys %dflt) {
	ok(exists $item{$name}, "conf_tbl.h property $name has an .It Ic entry in viaduct.conf.5") or next;
	my ($macro, $d) = @{ $dflt{$name} };
	my $body = $item{$name} =~ s/\\&//gr;
	if ($macro) {
		like($body, qr/^\.Pa \S*\Q$d\E\b/m, "$name: default path ...$d documented");
	} elsif ($d eq '') {
		like($body, qr/Default empty/, "$name: empty default documented");
	} else {
		like($body, qr/Default\n\.Cm \Q$d\E(?: |$)/m, "$name: default $d documented");
	}
	like($body, qr/Example:\n\.Ql set \Q$name\E=/, "$name: has an example");
}
for my $name (sort keys %item) {
	ok(exists $dflt{$name}, ".It Ic $name in viaduct.conf.5 is a property of conf_tbl.h");
}
like($man, qr/not an open proxy/, "viaduct.conf.5 says the shipped config is not an open proxy");
like($man, qr/^\.Xr viaduct 8 ,\n\.Xr viaductctl 8$/m, "SEE ALSO viaduct(8) viaductctl(8)");

done_testing();
