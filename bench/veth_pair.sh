# bench/veth_pair.sh - sourced by the live benchmarks (live_rate.sh, live_churn.sh): a veth pair
# whose peer end lives in a network namespace made here, IPv6 off on both ends (so the kernel
# sends nothing of its own), 10.213.0.1/30 here and 10.213.0.2/30 on the peer, both up. Sets
# ns, here and peer (names unique to this process, from the prefix given) and work (a temporary
# folder), and removes all of it when the script exits.
#
# usage: source bench/veth_pair.sh; veth_pair PREFIX
veth_pair() {
    ns=nasoone-$1-$$ here=${1:0:2}A$$ peer=${1:0:2}B$$
    work=$(mktemp -d)
    trap 'ip link del "$here" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"' EXIT
    ip netns add "$ns"
    ip link add "$here" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    sysctl -qw "net.ipv6.conf.$here.disable_ipv6=1"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$peer.disable_ipv6=1"
    ip addr add 10.213.0.1/30 dev "$here"
    ip netns exec "$ns" ip addr add 10.213.0.2/30 dev "$peer"
    ip link set "$here" up
    ip netns exec "$ns" ip link set "$peer" up
}
