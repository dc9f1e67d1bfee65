#!/bin/busybox sh
# Domain-0's /init (tools/linux-guest-assets --dom0 puts it in dom0-initramfs.cpio.gz):
# loads the drivers of the machine's real disks and NICs, checks every disk that carries
# the test pattern of tests/dom0/make-disk-image, gets a DHCP lease on every NIC, and
# reports each result on a line that starts with "VIREO-DOM0:", which the tests match.
#
# Kernel command-line options it reads:
#   vireo.disks=N       wait (up to vireo.wait seconds, default 60) until N disks with the
#                       test pattern are there before checking them
#   vireo.probe=A[,B]   read 4 KiB of /dev/mem at each physical address and print its md5
#                       and first 16 bytes (or why the read failed)
#   vireo.dma_attack=A  have QEMU's edu device DMA to and from physical address A
#                       (tests/dom0/dma_attack.cpp), after a DMA into its own RAM
#   vireo.bench         time a 64 MiB O_DIRECT read of the disk labelled "bench"
#   vireo.panic         crash the kernel (sysrq "c") once userspace runs
#   vireo.shell         a shell on the console instead of the power-off at the end
#   vireo.kmsg          keep every kernel message on the console once userspace runs
#   vireo.xm            run xm (info, list, list --json) as root and as an unprivileged
#                       user, printing what each says; xm create from the disk labelled
#                       vireo-domu
#   vireo.xm=lifecycle  instead: domUs from that disk through xm console, pause, vcpu-pin,
#                       rename, reboot, a panic, shutdown -w and destroy
#   vireo.xm=pvio       instead: domUs with a virtio disk served by vireo-dm here
#   vireo.xm=pvio-bench instead: tools/bench-pvio's figures
#   vireo.xm=sched      instead: xm sched-credit and vcpu-pin with CPU-bound domUs
#   vireo.xm=save       instead: xm save, save -c, restore and migrate of a counting
#                       domU, and damaged files refused; then
#   vireo.cross=send    a domU saved onto the exchange disk for the other vendor
#   vireo.migrate=live  (migrations with --live only)
#   vireo.xm=cross-pass instead: the domU on the exchange disk restored here, migrated
#                       to this host, then saved onto it again
#   vireo.xm=cross-restore  instead: the domU on the exchange disk restored here
#   vireo.xm=save-bench instead: tools/bench-save's figures
#   vireo.xm=one        instead: one domU from that disk created, listed, used through
#                       xm console and destroyed
#   vireo.xm=migrate-a  instead: one of two machines joined by a network of their own
#   vireo.xm=migrate-b  (tests/boot/run_qemu_pair.py --link): the bridge xenbr0 with its NIC,
#                       10.0.0.1 on A and 10.0.0.2 on B, a ping of the other answered; A
#                       live-migrates a counting domU to B (xm migrate --live, xm
#                       migrate-receive), whose TCP connection to A's Domain-0 lives on;
#                       the power-off only once the other is done too
#   vireo.root=LABEL=L  once the drivers are loaded, mount the disk labelled L (Domain-0's
#                       Debian root filesystem, tools/dom0-rootfs) and switch_root into
#                       this same script there (/usr/local/sbin/vireo-init), which goes on
#                       from that point: the initramfs only loads the drivers.
if [ -f /etc/debian_version ]; then
  # On Debian's root filesystem: /proc, /sys and /dev came along from the initramfs.
  # busybox's applets (the same busybox-static) are first on this script's PATH, so that
  # it behaves as it does in the initramfs; Domain-0's shell gets Debian's PATH alone.
  debian_root=yes
  mount -t tmpfs -o mode=1777 tmp /tmp
  mount -t tmpfs -o mode=755 run /run
  # /run/lock (Debian's /var/lock) as its init scripts would make it: qemu-nbd keeps
  # its sockets there.
  mkdir -p /run/busybox /run/lock /var/log/vireo
  /bin/busybox --install -s /run/busybox
  debian_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  export PATH=/run/busybox:$debian_path
  hostname -F /etc/hostname
else
  debian_root=""
  /bin/busybox --install -s /bin
  export PATH=/bin
  mount -t proc proc /proc
  mount -t sysfs sys /sys
  mount -t devtmpfs dev /dev 2>/dev/null
  # Pseudo-terminals (Documentation/filesystems/devpts.rst): a domU's virtio console is a
  # pty of its device model. (It moves with /dev to the root filesystem.)
  mkdir -p /dev/pts
  mount -t devpts devpts /dev/pts
fi

# The loopback interface, as any system's init brings it up (xm migrate to 127.0.0.1).
ip link set lo up

say() { echo "VIREO-DOM0: $*"; }
# Failures of the initramfs's part count on after the switch to the root filesystem.
failures=${VIREO_FAILURES:-0}
fail() {
  failures=$((failures + 1))
  say "$*"
}
cmdline=$(cat /proc/cmdline)
# opt NAME: prints the value of NAME=VALUE on the command line ("yes" for a bare NAME);
# fails when NAME is absent.
opt() {
  for a in $cmdline; do
    case $a in
      "$1") echo yes; return 0 ;;
      "$1"=*) echo "${a#*=}"; return 0 ;;
    esac
  done
  return 1
}
seconds() { cut -d' ' -f1 /proc/uptime; }
# The kernel's monotonic clock in nanoseconds ("now at N nsecs" in /proc/timer_list), or
# /proc/uptime's centiseconds where that is missing.
now_ns() {
  ns=$(sed -n '/^now at /{s/^now at \([0-9]*\) nsecs$/\1/p;q}' /proc/timer_list 2> /dev/null)
  if [ -n "$ns" ]; then echo "$ns"; else awk '{ printf "%.0f\n", $1 * 1e9 }' /proc/uptime; fi
}
# Waits until the console has sent all that was written to it: before a power-off or a
# crash, which would cut it short. stty sets the settings it reads back with TCSADRAIN,
# which waits for the output to drain (termios(3), tcsetattr), and the kernel's serial
# driver waits for the UART's transmitter to be empty too.
drain_console() { stty "$(stty -g < /dev/console)" < /dev/console; }
# dd's own error lines (busybox dd prints "dd: ..." on failure), on one line.
dd_errors() { grep 'dd:' /tmp/dd.err | tr '\n' ' ' | sed 's/ *$//'; }

if [ -z "$debian_root" ]; then
  say "userspace started"
  say "nproc $(nproc)"
  say "memtotal $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) kB"
  # From here on the console shows only kernel messages of warning level and worse: the
  # others (a NIC's link coming up) would land between, or inside, the lines the tests
  # match. vireo.kmsg keeps them all. (`dmesg -n` sets the console log level: the
  # kernel's Documentation/admin-guide/sysctl/kernel.rst, "printk".)
  opt vireo.kmsg > /dev/null || dmesg -n 5
  if opt vireo.panic > /dev/null; then
    say "crashing the kernel on purpose (vireo.panic)"
    drain_console
    echo c > /proc/sysrq-trigger
  fi

  # The drivers, dependencies first (tools/linux-guest-assets wrote the order). Loading a
  # module returns only after the probing it started asynchronously has finished (the
  # kernel's do_init_module waits with async_synchronize_full), so disks found by a driver
  # are there once its insmod returns.
  moddir=/lib/modules/$(uname -r)
  if [ -f "$moddir/dom0-modules.order" ]; then
    loaded=""
    while read -r ko; do
      name=${ko##*/}
      name=${name%.ko}
      if err=$(insmod "$moddir/$ko" 2>&1); then
        loaded="$loaded $name"
      else
        fail "module $name failed to load: $err"
      fi
    done < "$moddir/dom0-modules.order"
    say "modules loaded:$loaded"
  else
    fail "no modules for kernel $(uname -r) in the initramfs"
  fi

  # Vireo's module (dom0/module): /dev/vireo, which xm uses. It loads only on Vireo.
  if err=$(insmod /lib/modules/vireo.ko 2>&1); then
    say "vireo module loaded: /dev/vireo mode $(stat -c %a /dev/vireo)"
  else
    say "vireo module not loaded: $err"
  fi

  # Domain-0's Debian root filesystem (vireo.root=LABEL=...): the disk its label names is
  # mounted and this script starts again there as PID 1 (busybox switch_root empties the
  # initramfs first); the drivers just loaded stay.
  if root_spec=$(opt vireo.root); then
    root_dev=""
    for _ in $(seq 100); do
      root_dev=$(findfs "$root_spec" 2> /dev/null) && break
      sleep 0.1
    done
    mkdir -p /newroot
    if [ -z "$root_dev" ]; then
      fail "root filesystem $root_spec: no disk has it; going on in the initramfs"
    elif ! err=$(mount -t ext4 "$root_dev" /newroot 2>&1); then
      fail "root filesystem $root_spec ($root_dev) does not mount: $err; going on in the initramfs"
    elif [ ! -x /newroot/usr/local/sbin/vireo-init ]; then
      umount /newroot
      fail "root filesystem $root_spec ($root_dev) has no /usr/local/sbin/vireo-init; going on in the initramfs"
    else
      say "root filesystem $root_spec on ${root_dev#/dev/}: Debian $(cat /newroot/etc/debian_version)"
      export VIREO_FAILURES=$failures
      for m in /proc /sys /dev; do mount --move $m /newroot$m; done
      exec switch_root /newroot /usr/local/sbin/vireo-init
    fi
  fi
fi
if [ -n "$debian_root" ]; then
  say "on Debian's root filesystem: $(. /etc/os-release && echo "$PRETTY_NAME"), $(qemu-img --version | head -n 1)"
fi

# The PCI function (its sysfs directory) above a sysfs device, or nothing.
pci_function() {
  p=$(readlink -f "$1")
  while [ -n "$p" ] && [ "$p" != / ]; do
    if [ -e "$p/subsystem" ] && [ "$(basename "$(readlink "$p/subsystem")")" = pci ]; then
      echo "$p"
      return
    fi
    p=$(dirname "$p")
  done
}
driver_of() {
  if [ -e "$1/driver" ]; then basename "$(readlink "$1/driver")"; else echo none; fi
}
for d in /sys/bus/pci/devices/*; do
  [ -e "$d" ] || continue
  vendor=$(cat "$d/vendor")
  device=$(cat "$d/device")
  class=$(cat "$d/class")
  say "pci ${d##*/} ${vendor#0x}:${device#0x} class ${class#0x} driver $(driver_of "$d")"
done

# The first line of a disk's first sector: "VIREO-DISK <label> chunk=<bytes>
# data=<first chunk>+<chunks> md5=<md5 of the data chunks> scratch=<first>+<chunks>"
# on the disks of tests/dom0/make-disk-image; empty on others.
header() { dd if="/dev/$1" bs=512 count=1 iflag=direct 2> /dev/null | head -n 1 | tr -d '\000'; }
pattern_disks() {
  for b in /sys/block/*; do
    dev=${b##*/}
    case $dev in loop* | ram* | sr* | fd* | zram*) continue ;; esac
    case "$(header "$dev")" in "VIREO-DISK "*) echo "$dev" ;; esac
  done
}
if want=$(opt vireo.disks); then
  limit=$(opt vireo.wait || echo 60)
  start=$(seconds)
  while [ "$(pattern_disks | wc -l)" -lt "$want" ]; do
    if awk -v now="$(seconds)" -v start="$start" -v limit="$limit" 'BEGIN { exit !(now - start > limit) }'; then
      fail "only $(pattern_disks | wc -l) of $want disks with the test pattern after $limit s: $(ls /sys/block | tr '\n' ' ')"
      break
    fi
    usleep 200000
  done
fi

check_disk() {
  dev=$1
  label="" chunk="" data="" md5="" scratch=""
  # shellcheck disable=SC2046 # the header's words, split on purpose
  set -- $(header "$dev")
  label=$2
  for f in "$@"; do
    case $f in
      chunk=*) chunk=${f#chunk=} ;;
      data=*) data=${f#data=} ;;
      md5=*) md5=${f#md5=} ;;
      scratch=*) scratch=${f#scratch=} ;;
    esac
  done
  pci=$(pci_function "/sys/block/$dev/device")
  driver=$([ -n "$pci" ] && driver_of "$pci" || echo "no PCI device")
  if [ -z "$chunk" ] || [ -z "$data" ] || [ -z "$md5" ]; then
    fail "disk $label ($dev, $driver) pattern BAD: header '$(header "$dev")'"
    return
  fi
  sum=$(dd if="/dev/$dev" bs="$chunk" skip="${data%+*}" count="${data#*+}" iflag=direct 2> /tmp/dd.err | md5sum)
  sum=${sum%% *}
  if [ "$sum" = "$md5" ]; then
    say "disk $label ($dev, $driver) pattern ok"
  else
    fail "disk $label ($dev, $driver) pattern BAD: md5 $sum, expected $md5 $(dd_errors)"
  fi
  [ -n "$scratch" ] || return
  # A block unique to this boot, written with O_DIRECT and read back with O_DIRECT after
  # dropping the page cache, so the data makes the round trip through the device.
  first=${scratch%+*}
  yes "written by Domain-0 $(cat /proc/sys/kernel/random/uuid)" | head -c "$chunk" > /tmp/block
  written=$(md5sum < /tmp/block)
  if ! dd if=/tmp/block of="/dev/$dev" bs="$chunk" seek="$first" count=1 oflag=direct conv=notrunc,fsync 2> /tmp/dd.err; then
    fail "disk $label write failed: $(dd_errors)"
    return
  fi
  echo 3 > /proc/sys/vm/drop_caches
  read_back=$(dd if="/dev/$dev" bs="$chunk" skip="$first" count=1 iflag=direct 2> /tmp/dd.err | md5sum)
  if [ "$read_back" = "$written" ]; then
    say "disk $label write read back ok"
  else
    fail "disk $label write read back BAD: md5 ${read_back%% *}, wrote ${written%% *} $(dd_errors)"
  fi
}
disks=$(pattern_disks)
say "disks with the test pattern: $(echo "$disks" | tr '\n' ' ' | sed 's/ *$//')"
for dev in $disks; do check_disk "$dev"; done

if opt vireo.bench > /dev/null; then
  bench=""
  for dev in $disks; do
    # shellcheck disable=SC2046 # the header's words, split on purpose
    set -- $(header "$dev")
    [ "$2" = bench ] && bench=$dev
  done
  if [ -z "$bench" ]; then
    fail "bench: no disk labelled bench"
  else
    # Debian's busybox dd prints no transfer rate: the time comes from the kernel's clock.
    start=$(now_ns)
    if dd if="/dev/$bench" of=/dev/null bs=1M count=64 iflag=direct 2> /tmp/dd.err; then
      end=$(now_ns)
      # "64+0 records in": whole 1 MiB blocks (a short disk gives fewer).
      blocks=$(sed -n 's/^\([0-9]*\)+[0-9]* records in$/\1/p' /tmp/dd.err)
      awk -v b="$blocks" -v t0="$start" -v t1="$end" \
        'BEGIN { printf "VIREO-DOM0: dd %d bytes %.6f s\n", b * 1048576, (t1 - t0) / 1e9 }'
    else
      fail "bench: dd of $bench failed: $(dd_errors)"
    fi
  fi
fi

# Every NIC: up, then a DHCP lease from QEMU's user network (bounded: 10 tries 3 s apart);
# but for the pair's link, where nothing serves DHCP (vireo.xm=migrate-a, migrate-b).
case "$(opt vireo.xm)" in migrate-*) dhcp=no ;; *) dhcp=yes ;; esac
for n in /sys/class/net/*; do
  n=${n##*/}
  [ "$n" = lo ] && continue
  pci=$(pci_function "/sys/class/net/$n/device")
  driver=$([ -n "$pci" ] && driver_of "$pci" || echo "no PCI device")
  say "nic $n ($driver) mac $(cat "/sys/class/net/$n/address")"
  ip link set "$n" up
  [ $dhcp = yes ] || continue
  rm -f "/tmp/lease.$n"
  udhcpc -i "$n" -f -q -n -t 10 -T 3 -s /etc/udhcpc/default.script > "/tmp/udhcpc.$n" 2>&1
  if [ -s "/tmp/lease.$n" ]; then
    say "$n lease $(cat "/tmp/lease.$n") ($driver)"
  else
    fail "$n no lease ($driver): $(tail -n 2 "/tmp/udhcpc.$n" | tr '\n' ' ')"
  fi
done

# The interrupts of the devices, summed over the CPUs: "irq <number> <count> <chip and
# name...>", so a test sees that MSI/MSI-X and IO-APIC interrupts arrive.
awk 'NR == 1 { cpus = NF; next }
/virtio|ahci|ata|eth|e1000|PCI-MSI|IO-APIC/ {
  sum = 0
  for (i = 2; i <= cpus + 1; i++) sum += $i
  rest = ""
  for (i = cpus + 2; i <= NF; i++) rest = rest " " $i
  sub(/:$/, "", $1)
  print "VIREO-DOM0: irq " $1 " " sum rest
}' /proc/interrupts

# /dev/mem at the physical addresses asked for (the kernel's STRICT_DEVMEM refuses RAM it
# owns, so a refused read is reported, not failed).
if probes=$(opt vireo.probe); then
  for addr in $(echo "$probes" | tr , ' '); do
    if dd if=/dev/mem of=/tmp/probe bs=4096 count=1 iflag=skip_bytes skip=$((addr)) 2> /tmp/dd.err &&
      [ "$(stat -c %s /tmp/probe)" = 4096 ]; then
      sum=$(md5sum < /tmp/probe)
      say "devmem $addr md5 ${sum%% *} first16 $(hexdump -v -n 16 -e '16/1 "%02x"' /tmp/probe)"
    else
      say "devmem $addr read failed: $(dd_errors)"
    fi
  done
fi

# A device programmed to DMA into memory that is not Domain-0's (tests/dom0/dma_attack.cpp,
# QEMU's edu device): the IOMMU must stop it.
if target=$(opt vireo.dma_attack); then
  dma-attack "$target" 2>&1 | sed 's/^/VIREO-DOM0: /'
fi

# wait_for FILE PATTERN: until a line of FILE matches PATTERN (grep -E), up to 600 s
# (a bound for a hang, not a timing assumption).
wait_for() {
  for _ in $(seq 600); do
    grep -Eq "$2" "$1" 2> /dev/null && return 0
    sleep 1
  done
  return 1
}
# wait_quietly OUT PATTERN: as wait_for, without starting a process each second: one tail
# follows OUT (busybox's tail -f looks again each second, in its own process) until grep
# sees PATTERN. For a bench whose domU measures meanwhile: each process Domain-0 starts
# and reaps takes tasklist_lock, and a vCPU waiting for it behind a holder that the domU
# preempted spins (docs/performance-under-tcg.md).
wait_quietly() {
  # OUT comes from a background job, which may not have made it yet.
  for _ in $(seq 600); do
    [ -e "$1" ] && break
    sleep 1
  done
  rm -f /tmp/wait.fifo && mkfifo /tmp/wait.fifo
  tail -n +1 -f "$1" > /tmp/wait.fifo 2> /dev/null &
  local follower=$!
  timeout 600 grep -Eq "$2" < /tmp/wait.fifo
  local found=$?
  kill $follower 2> /dev/null
  wait $follower 2> /dev/null
  rm -f /tmp/wait.fifo
  return $found
}
# wait_gone PID: until the process has exited, up to 600 s; its exit status, or 124.
wait_gone() {
  for _ in $(seq 600); do
    kill -0 "$1" 2> /dev/null || { wait "$1"; return $?; }
    sleep 1
  done
  return 124
}
cpu_time() { xm list --json "$1" | sed -n 's/.*"cpu_time": \([0-9.]*\).*/\1/p'; }
# start_receiver [ARGS]: xm migrate-receive ARGS in the background (its pid in
# $receiver, its output in /tmp/receive.out), once it listens. The file goes first: the
# background job truncates it only once it runs, and a wait that found an earlier
# receiver's "waiting on port" there would send to a port nobody listens on yet.
start_receiver() {
  rm -f /tmp/receive.out
  xm migrate-receive "$@" > /tmp/receive.out 2>&1 &
  receiver=$!
  wait_for /tmp/receive.out "waiting on port" || fail "xm migrate-receive $* did not listen"
}
# wait_new_id NAME OLD: until domain NAME exists with an id other than OLD (printed) and
# runs (its builder has unpaused it: running or blocked).
wait_new_id() {
  for _ in $(seq 300); do
    id=$(xm domid "$1" 2> /dev/null)
    if [ -n "$id" ] && [ "$id" != "$2" ]; then
      case "$(xm list "$id" 2> /dev/null | tail -n 1)" in *" r-----"* | *" -b----"*) echo "$id"; return 0 ;; esac
    fi
    sleep 1
  done
  # On the console, not into the caller's $(...).
  {
    say "$1 did not come back: the monitor's log says:"
    sed -n 's/^[0-9-]* [0-9:]* //p' /var/log/vireo/xm-$1.log | while IFS= read -r line; do say "  $line"; done
    xm list | while IFS= read -r line; do say "  $line"; done
  } >&2
  return 1
}
# console_open NAME OUT: xm console on NAME in the background (pid in $pid), its output
# in OUT, its keys from fd 3.
# open_keys: fd 3 writes to the FIFO /tmp/keys, which a console in the background reads.
# The open waits until that end is open too; a signal (a background job's end) may
# interrupt the wait ("can't create /tmp/keys: Interrupted system call"), which would end
# the script but for `command`: then it opens again, a bounded number of times (a
# missing FIFO fails every time).
open_keys() {
  for _ in $(seq 100); do
    command exec 3> /tmp/keys && return 0
  done
  fail "cannot open /tmp/keys for a console's keys"
  return 1
}
# fresh_keys: a new FIFO /tmp/keys for the next console. A key an earlier console left
# unread stays in the old one (its Ctrl-] from console_close, when it had just ended by
# itself, its domain gone), which a process that inherited the shell's end (a domain's
# monitor, started meanwhile) may keep open: read by the next console, it would detach
# it at once.
fresh_keys() {
  rm -f /tmp/keys
  mkfifo /tmp/keys
}
console_open() {
  fresh_keys
  # OUT goes first: a wait on it cannot find what an earlier console left there.
  rm -f "$2"
  xm console "$1" < /tmp/keys > "$2" 2>&1 &
  pid=$!
  open_keys
}
# console_ready OUT: types a command until the domU's shell answers it in OUT, as a user
# presses Enter until a prompt shows (keys typed while its kernel still boots are lost
# when its serial driver resets the UART's FIFOs, as on a real machine).
console_ready() {
  for _ in $(seq 120); do
    printf 'echo ready-$((3*3))\n' >&3
    for _ in 1 2 3 4 5; do
      grep -q "^ready-9" "$1" 2> /dev/null && return 0
      sleep 1
    done
  done
  return 1
}
# console_close: Ctrl-], then its exit status.
# console_report OUT: what a console in the background wrote into OUT lately, and
# whether it still runs (when a wait on it failed).
console_report() {
  tail -n 5 "$1" 2> /dev/null | tr -d '\r' | while IFS= read -r line; do say "  $1: $line"; done
  if kill -0 $pid 2> /dev/null; then say "  its xm console ($pid) still runs"; else say "  its xm console ($pid) has ended"; fi
}
console_close() {
  printf '\035' >&3
  exec 3>&-
  wait_gone $pid
}

# linux_domu_config NAME MIB ARGS [LINE...]: /tmp/NAME.cfg, a domU named NAME with MIB of
# RAM that boots the Linux tests' kernel and initramfs (from the disk of domU images) with
# the command line "console=ttyS0 ARGS", then each LINE of the config as it is given.
linux_domu_config() {
  local cfg=/tmp/$1.cfg
  printf 'name = "%s"\nmemory = %s\nkernel = "/domu/vmlinuz"\n' "$1" "$2" > $cfg
  printf 'ramdisk = "/domu/initramfs.cpio.gz"\ncmdline = "console=ttyS0 %s"\n' "$3" >> $cfg
  shift 3
  for line in "$@"; do echo "$line" >> $cfg; done
}
# domu_config NAME PANIC: /tmp/NAME.cfg, a domU from the disk of domU images with a shell
# on its console, panic=PANIC, restarted after a reboot or a crash.
domu_config() {
  linux_domu_config $1 128 "panic=$2 vireo.shell" \
    'on_poweroff = "destroy"' \
    'on_reboot = "restart"' \
    'on_crash = "restart"'
}

# One domU created, listed, used through its console and destroyed (for Bochs, where a
# Linux boot takes minutes).
xm_one_domu() {
  trap '' PIPE
  domu_config shell 1
  # With a virtio disk its device model (vireo-dm) serves from here: written, read back.
  dd if=/dev/zero of=/tmp/shell-disk.img bs=1M count=8 2> /dev/null
  sed -i 's/vireo.shell"/vireo.shell vireo.disk=write"/' /tmp/shell.cfg
  echo "disk = [ 'target=/tmp/shell-disk.img,vdev=xvda,access=rw' ]" >> /tmp/shell.cfg
  mkfifo /tmp/keys
  run_xm "xm create" xm create /tmp/shell.cfg
  run_xm "xm list with shell" xm list
  console_open shell /tmp/console1.out
  console_ready /tmp/console1.out && say "xm console: the domU's shell answered"
  console_close
  say "xm console: detached, exit status $?"
  run_xm "xm destroy shell" xm destroy shell
  sed 's/^/dm log: /' /var/log/vireo/dm-shell.log 2> /dev/null | while IFS= read -r line; do say "$line"; done
  run_xm "xm list at the end" xm list
  rm -f /tmp/keys
}

# xm console, pause, vcpu-pin, rename, uptime, dmesg, shutdown, reboot and the config's
# on_poweroff / on_reboot / on_crash, with domUs that give a shell on their console (the
# Linux tests' initramfs with vireo.shell). Keys reach xm console through a fifo.
xm_console_and_lifecycle() {
  # A console that ended by itself (its domain gone) leaves the fifo without a reader:
  # a write then fails (EPIPE) rather than killing this shell.
  trap '' PIPE
  domu_config shell 1
  domu_config spinner 0
  mkfifo /tmp/keys
  # xm create -c: its console from its first line.
  start_ns=$(now_ns)
  rm -f /tmp/console1.out
  xm create -c /tmp/shell.cfg < /tmp/keys > /tmp/console1.out 2>&1 &
  pid=$!
  open_keys
  if wait_for /tmp/console1.out "VIREO-LINUX: userspace started"; then
    say "xm create to the domU's first userspace line: $(( ($(now_ns) - start_ns) / 1000000 )) ms"
  fi
  # Typed at the prompt, which busybox prints once it has set up the terminal.
  if wait_for /tmp/console1.out "^/ # "; then
    say "xm create -c: the domU's boot and shell prompt came through"
    printf 'echo typed-into-domu $((6*7))\n' >&3
    wait_for /tmp/console1.out "^typed-into-domu 42" && say "xm create -c: the domU's shell answered"
  fi
  console_close
  say "xm create -c: detached, exit status $?"
  shell_id=$(xm domid shell)
  console_open shell /tmp/console2.out
  printf 'echo again-$((7*6))\n' >&3
  wait_for /tmp/console2.out "^again-42" && say "xm console: the domU's shell answered"
  console_close
  say "xm console: detached, exit status $?"
  # Paused, its CPU time stands still; unpaused, it moves again.
  run_xm "xm pause shell" xm pause shell
  t1=$(cpu_time shell)
  sleep 2
  t2=$(cpu_time shell)
  if [ -n "$t1" ] && [ "$t1" = "$t2" ]; then say "paused: CPU time stays"; else fail "paused: CPU time went from $t1 to $t2 s"; fi
  run_xm "xm unpause shell" xm unpause shell
  moved=no
  for _ in $(seq 600); do
    if [ "$(cpu_time shell)" != "$t1" ]; then moved=yes; break; fi
    sleep 1
  done
  say "unpaused: CPU time moves: $moved"
  # Pinned to CPU 1, its vCPU runs there.
  run_xm "xm vcpu-pin" xm vcpu-pin shell 0 1
  on=""
  for _ in $(seq 600); do
    on=$(xm vcpu-list shell | awk 'NR == 2 { print $4 " " $7 }')
    [ "$on" = "1 1" ] && break
    sleep 1
  done
  say "xm vcpu-pin: CPU and affinity now: $on"
  run_xm "xm vcpu-pin bad" xm vcpu-pin shell 0 5-7
  run_xm "xm rename" xm rename shell calm
  run_xm "xm list renamed" xm list calm
  run_xm "xm rename taken" xm rename calm Domain-0
  xm rename calm shell
  run_xm "xm uptime" xm uptime shell
  xm dmesg > /tmp/dmesg.out
  say "xm dmesg: $(grep -c . /tmp/dmesg.out) lines; boot line: $(grep -c 'Vireo' /tmp/dmesg.out)"
  # xm dump-core: its memory read through foreign mappings into an ELF core file, with
  # its running kernel's banner in it; it runs on afterwards.
  run_xm "xm dump-core" xm dump-core shell /tmp/shell.core
  say "xm dump-core: $(head -c 4 /tmp/shell.core | tail -c 3) core of $(( $(wc -c < /tmp/shell.core) / 1048576 )) MiB, kernel banner in it: $(grep -q -a 'Linux version 6' /tmp/shell.core && echo yes || echo no)"
  rm -f /tmp/shell.core
  say "after xm dump-core, shell is: $(xm list shell | awk 'NR == 2 { print $5 }')"
  # A reboot inside the domU: on_reboot=restart brings it back under a new id.
  console_open shell /tmp/console3.out
  printf 'reboot -f\n' >&3
  id=$(wait_new_id shell "$shell_id")
  say "reboot in the domU: shell came back with a new id: $([ -n "$id" ] && echo yes || echo no)"
  console_close
  say "xm console across the reboot: exit status $?, $(grep -c 'is gone' /tmp/console3.out) 'gone' note"
  shell_id=$id
  # xm reboot: the reset button, and again on_reboot=restart.
  run_xm "xm reboot" xm reboot shell
  id=$(wait_new_id shell "$shell_id")
  say "xm reboot: shell came back with a new id: $([ -n "$id" ] && echo yes || echo no)"
  shell_id=$id
  # A kernel panic (sysrq c) with panic=1: the reset that follows is a crash, and
  # on_crash=restart brings it back.
  console_open shell /tmp/console4.out
  console_ready /tmp/console4.out || fail "the restarted shell domU gives no shell"
  printf 'echo c > /proc/sysrq-trigger\n' >&3
  id=$(wait_new_id shell "$shell_id")
  say "panic in the domU: shell came back with a new id: $([ -n "$id" ] && echo yes || echo no)"
  console_close > /dev/null
  sed -n 's/^[0-9-]* [0-9:]* //p' /var/log/vireo/xm-shell.log | while IFS= read -r line; do say "monitor: $line"; done
  # xm shutdown -w: the power button; its acpid powers it off; on_poweroff=destroy.
  console_open shell /tmp/console5.out
  console_ready /tmp/console5.out || fail "the restarted shell domU gives no shell"
  console_close > /dev/null
  run_xm "xm shutdown -w" timeout 600 xm shutdown -w shell
  # shutdown -w returns once it has shut down; its monitor then destroys it.
  gone=no
  for _ in $(seq 300); do
    if ! xm domid shell > /dev/null 2>&1; then gone=yes; break; fi
    sleep 1
  done
  say "after the shutdown, on_poweroff=destroy removed it: $gone"
  # xm destroy of a domU that spins with interrupts off: a panic with panic=0 (Linux's
  # panic() disables interrupts and loops for ever).
  fresh_keys
  rm -f /tmp/console6.out
  xm create -c /tmp/spinner.cfg < /tmp/keys > /tmp/console6.out 2>&1 &
  pid=$!
  open_keys
  wait_for /tmp/console6.out "^/ # "
  printf 'echo c > /proc/sysrq-trigger\n' >&3
  wait_for /tmp/console6.out "Kernel panic - not syncing" && say "spinner: panicked, spinning with interrupts off"
  start_ns=$(now_ns)
  run_xm "xm destroy spinner" xm destroy spinner
  say "xm destroy of the spinning domU took $(( ($(now_ns) - start_ns) / 1000000 )) ms"
  exec 3>&-
  wait_gone $pid
  say "xm console of the destroyed spinner: exit status $?, $(grep -c 'is gone' /tmp/console6.out) 'gone' note"
  # xm destroy while xm dump-core maps the domain's memory (it waits to write into a
  # pipe nobody reads): the hypervisor revokes the mapping, the destroy goes through,
  # and the dump ends with an error.
  run_xm "xm create victim" xm create -p /tmp/shell.cfg name=victim
  mkfifo /tmp/core.fifo
  xm dump-core victim /tmp/core.fifo > /tmp/dump.out 2>&1 &
  dump_pid=$!
  exec 4< /tmp/core.fifo
  # Past its one page of headers: its memory is mapped, and it waits in a write.
  head -c 8192 <&4 > /dev/null
  run_xm "xm destroy victim" xm destroy victim
  cat <&4 > /dev/null
  exec 4<&-
  wait $dump_pid
  say "xm dump-core of the destroyed victim: exit status $?: $(cat /tmp/dump.out)"
  rm -f /tmp/core.fifo
  run_xm "xm list at the end" xm list
  rm -f /tmp/keys
}

# Each line of a command's output, and its exit status.
# disk_domu_config NAME MODE TARGET ACCESS: /tmp/NAME.cfg, a domU whose virtio disk vda
# (its device model in Domain-0 serves TARGET) is checked with vireo.disk=MODE (the Linux
# tests' initramfs: write, or check a pattern written before); it stays when it ends.
disk_domu_config() {
  linux_domu_config $1 128 "panic=-1 vireo.disk=$2" \
    "disk = [ 'format=${5:-raw}, vdev=xvda, access=$4, target=$3' ]" \
    'on_poweroff = "preserve"' \
    'on_crash = "preserve"'
}
# wait_ended NAME: until domain NAME has shut down or crashed, up to 600 s; fails at once
# when there is no such domain (its xm create failed).
wait_ended() {
  xm list "$1" > /dev/null 2>&1 || return 1
  for _ in $(seq 600); do
    case "$(xm list "$1" 2> /dev/null | tail -n 1)" in *" ---s--"* | *" ----c-"*) return 0 ;; esac
    sleep 1
  done
  return 1
}
# disk_domu NAME MODE TARGET ACCESS [FORMAT]: the domU created, run to its end and
# destroyed; its device model is gone when this returns.
disk_domu() {
  disk_domu_config "$@"
  run_xm "xm create $1" xm create /tmp/$1.cfg
  wait_ended "$1" || fail "$1 did not end"
  run_xm "xm destroy $1" xm destroy "$1"
  wait_dm_gone "$1"
  sed 's/^/dm log: /' /var/log/vireo/dm-$1.log 2> /dev/null | while IFS= read -r line; do say "$line"; done
}
# wait_dm_gone NAME: until domain NAME's device model has exited (it lets go of its
# disks then: a qcow2 image's qemu-nbd has flushed it and exited), up to 60 s.
wait_dm_gone() {
  for _ in $(seq 600); do
    pgrep -f "vireo-dm .*--name $1( |\$)" > /dev/null || return 0
    sleep 0.1
  done
  fail "the device model of $1 is still running"
}
# present FILE...: how many of them exist (a link counts as itself, not followed: a
# killed device model's console link points at a pty gone with it).
present() {
  n=0
  for f in "$@"; do [ -e "$f" ] || [ -L "$f" ] && n=$((n + 1)); done
  echo $n
}
# pattern_md5 FILE: of its first 4 MiB (the domU's pattern is VIREO-DISK-PATTERN lines).
pattern_md5() { dd if="$1" bs=65536 count=64 2> /dev/null | md5sum | cut -d' ' -f1; }

# Paravirtual devices (label pvio): domUs with a virtio disk whose device model
# (vireo-dm, started by xm create) runs here. A raw image file: the domU writes a pattern
# and reads it back; the pattern is in the file after the domU was destroyed; a second
# domU finds it there, through a block device (a loop device over the file).
xm_pvio() {
  dd if=/dev/zero of=/tmp/domu-disk.img bs=1M count=16 2> /dev/null
  disk_domu disk1 write /tmp/domu-disk.img rw
  want=$(yes VIREO-DISK-PATTERN | head -c 4194304 | md5sum | cut -d' ' -f1)
  if [ "$(pattern_md5 /tmp/domu-disk.img)" = "$want" ]; then
    say "pvio: the domU's pattern is in the image file"
  else
    fail "pvio: the image file does not hold the domU's pattern"
  fi
  # The second domU has the same image as a block device (a loop device over the file).
  loop=$(losetup -f)
  if [ -n "$loop" ] && losetup "$loop" /tmp/domu-disk.img; then
    say "pvio: the image is block device $loop"
    disk_domu disk2 check "$loop" rw
    losetup -d "$loop"
  else
    fail "pvio: no loop device for the image"
  fi
  # A qcow2 image on Domain-0's disk, served through qemu-nbd (vireo-dm connects it to a
  # /dev/nbdN): the domU writes its pattern; once it is destroyed, the image passes
  # qemu-img check and holds the pattern (read back through qemu-img convert).
  if [ -n "$debian_root" ]; then
    mkdir -p /var/lib/vireo
    qcow=/var/lib/vireo/qdisk.qcow2
    run_xm "qemu-img create" qemu-img create -q -f qcow2 "$qcow" 16M
    disk_domu qdisk write "$qcow" rw qcow2
    run_xm "qemu-img check" qemu-img check "$qcow"
    if qemu-img convert -O raw "$qcow" /tmp/qdisk.raw && [ "$(pattern_md5 /tmp/qdisk.raw)" = "$want" ]; then
      say "pvio: the qcow2 image holds the domU's pattern"
    else
      fail "pvio: the qcow2 image does not hold the domU's pattern"
    fi
    rm -f /tmp/qdisk.raw
    # An image that is not what its config says is refused with qemu-nbd's reason, and
    # nothing of the domain is left.
    run_xm "xm create bad qcow2" xm create /tmp/qdisk.cfg name=qbad "disk=['format=qcow2,vdev=xvda,target=/domu/web.cfg']"
    say "nbd devices in use after the qcow2 domUs: $(cat /sys/block/nbd*/pid 2> /dev/null | wc -l)"
    # A device model killed outright (SIGKILL: none of its handlers runs) leaves its qcow2
    # image's NBD device connected, its console link and its control socket behind; xm
    # destroy lets go of them and says so, and qemu-nbd flushes the image and ends.
    disk_domu_config qkill write "$qcow" rw qcow2
    run_xm "xm create -p qkill" xm create -p /tmp/qkill.cfg
    id=$(xm domid qkill)
    pkill -9 -f "vireo-dm .*--name qkill( |\$)"
    wait_dm_gone qkill
    files="/run/vireo/qkill.hvc0 /run/vireo/dm-$id.sock /run/vireo/dm-$id.holds"
    say "pvio: a killed device model left $(cat /sys/block/nbd*/pid 2> /dev/null | wc -l) nbd device(s) in use, $(present $files) of its files"
    run_xm "xm destroy qkill" xm destroy qkill
    for _ in $(seq 600); do
      pgrep -f "qemu-nbd .*$qcow" > /dev/null || break
      sleep 0.1
    done
    say "pvio: after xm destroy: $(cat /sys/block/nbd*/pid 2> /dev/null | wc -l) nbd device(s) in use, $(present $files) of its files, $(pgrep -c -f "qemu-nbd .*$qcow") qemu-nbd"
    run_xm "qemu-img check after the kill" qemu-img check "$qcow"
  fi
  # A read-only disk: the domU sees it read-only, its write fails, the image stays.
  dd if=/dev/zero of=/tmp/ro-disk.img bs=1M count=8 2> /dev/null
  zeros=$(pattern_md5 /tmp/ro-disk.img)
  disk_domu rodisk write /tmp/ro-disk.img ro
  if [ "$(pattern_md5 /tmp/ro-disk.img)" = "$zeros" ]; then
    say "pvio: the read-only image is unchanged"
  else
    fail "pvio: the read-only image was written"
  fi
  # A hostile domU drives its disk with garbage beside a domU whose disk works on: only
  # the hostile one's device stops (it needs a reset).
  dd if=/dev/zero of=/tmp/hostile.img bs=1M count=8 2> /dev/null
  dd if=/dev/zero of=/tmp/calm.img bs=1M count=8 2> /dev/null
  disk_domu_config hostile hostile /tmp/hostile.img rw
  # calm also says a line on its hvc0 and reads one back (vireo.hvc=echo).
  disk_domu_config calm "write vireo.hvc=echo" /tmp/calm.img rw
  run_xm "xm create hostile" xm create /tmp/hostile.cfg
  # calm starts as calmer, and is renamed: its console's link follows the name (xm tells
  # its device model).
  run_xm "xm create calm" xm create /tmp/calm.cfg name=calmer
  run_xm "xm rename calmer" xm rename calmer calm
  say "pvio: after xm rename: $(present /run/vireo/calmer.hvc0) link(s) named calmer"
  pvio_hvc calm
  for name in hostile calm; do
    wait_ended $name || fail "$name did not end"
    run_xm "xm destroy $name" xm destroy $name
  done
  # The device models' logs, named as they started.
  for name in hostile calmer; do
    sed 's/^/dm log: /' /var/log/vireo/dm-$name.log 2> /dev/null | while IFS= read -r line; do say "$line"; done
  done
  # Its device model ends once its domain is gone, and removes the console's link.
  for _ in $(seq 60); do
    [ -L /run/vireo/calm.hvc0 ] || break
    sleep 1
  done
  if [ -L /run/vireo/calm.hvc0 ]; then
    fail "pvio: /run/vireo/calm.hvc0 outlived calm"
  else
    say "pvio: /run/vireo/calm.hvc0 went with calm's device model"
  fi
  if [ "$(pattern_md5 /tmp/calm.img)" = "$want" ]; then
    say "pvio: the calm domU's pattern is in its image"
  else
    fail "pvio: the calm domU's image does not hold its pattern"
  fi
  xm_pvio_network
  xm_pvio_balloon
}

# pvio_hvc NAME: the domU's virtio console (vireo.hvc=echo: hvc0 there), the pty its
# device model links as /run/vireo/NAME.hvc0, through xm console -t pv: its line read
# here, a reply typed, then Ctrl-]. A domain without a device model has no such console.
pvio_hvc() {
  trap '' PIPE
  say "pvio: /run/vireo/$1.hvc0 -> $(readlink /run/vireo/$1.hvc0)"
  rm -f /tmp/keys
  mkfifo /tmp/keys
  rm -f /tmp/hvc.out
  xm console -t pv "$1" < /tmp/keys > /tmp/hvc.out 2>&1 &
  pid=$!
  open_keys
  if wait_for /tmp/hvc.out "VIREO-HVC: "; then
    say "pvio: hvc0 of $1 said: $(grep -m 1 'VIREO-HVC: ' /tmp/hvc.out | tr -d '\r')"
    printf 'reply from Domain-0\n' >&3
  else
    fail "pvio: hvc0 of $1 said nothing"
  fi
  console_close
  say "pvio: xm console -t pv $1: exit status $?"
  rm -f /tmp/keys
  domu_config nodm 1
  run_xm "xm create -p nodm" xm create -p /tmp/nodm.cfg
  run_xm "xm console -t pv nodm" xm console -t pv nodm
  run_xm "xm destroy nodm" xm destroy nodm
}

# xm sched-credit, vcpu-pin and the config's cpus, cpus_soft and cpu_weight
# (vireo.xm=sched): Domain-0 pinned to CPU 0, two CPU-bound domUs (vireo.spin) pinned to
# CPU 1 share it by weight, 512 against 256, then the lighter one under a cap of 25%.
# Their CPU times are the hypervisor's own counters (xm list --json).
spin_config() {
  linux_domu_config $1 96 "vireo.spin" \
    'cpus = "1"'
}
# create_spinning NAME: xm create -c (its console from its first line) until the domU
# says it spins, then detached from its console.
create_spinning() {
  rm -f /tmp/keys
  mkfifo /tmp/keys
  rm -f /tmp/$1.out
  xm create -c /tmp/$1.cfg < /tmp/keys > /tmp/$1.out 2>&1 &
  pid=$!
  exec 4> /tmp/keys
  wait_for /tmp/$1.out "VIREO-LINUX: spinning"
  ok=$?
  printf '\035' >&4
  exec 4>&-
  wait_gone $pid > /dev/null
  grep -E "^(Parsing config|Started domain)" /tmp/$1.out | tr -d '\r' | while IFS= read -r line; do say "xm create $1: $line"; done
  return $ok
}
# measure A B SECONDS: until A and B have run SECONDS more of CPU time together (or 20
# minutes pass); prints A's and B's CPU time meanwhile and the seconds that passed.
measure() {
  a0=$(cpu_time "$1")
  b0=$(cpu_time "$2")
  t0=$(now_ns)
  for _ in $(seq 600); do
    sleep 2
    a=$(cpu_time "$1")
    b=$(cpu_time "$2")
    t=$(now_ns)
    awk -v a="$a" -v b="$b" -v a0="$a0" -v b0="$b0" -v s="$3" 'BEGIN { exit !(a - a0 + b - b0 >= s) }' && break
  done
  awk -v a="$a" -v b="$b" -v a0="$a0" -v b0="$b0" -v t="$t" -v t0="$t0" \
    'BEGIN { printf "%.3f %.3f %.3f\n", a - a0, b - b0, (t - t0) / 1e9 }'
}
xm_sched() {
  trap '' PIPE
  run_xm "xm sched-credit" xm sched-credit
  run_xm "xm vcpu-pin Domain-0" xm vcpu-pin Domain-0 all 0
  spin_config light
  spin_config heavy
  printf 'cpu_weight = 512\ncpus_soft = "1"\n' >> /tmp/heavy.cfg
  create_spinning light && create_spinning heavy && say "light and heavy spin on CPU 1"
  run_xm "xm sched-credit -d heavy" xm sched-credit -d heavy
  run_xm "xm vcpu-list heavy" xm vcpu-list heavy
  run_xm "xm vcpu-pin heavy soft" xm vcpu-pin heavy 0 - all
  say "heavy's affinity now: $(xm vcpu-list heavy | awk 'NR == 2 { print $7 " " $8 " " $9 }')"
  # The weights: 512 against 256 is twice the CPU time (within 5%: 1.9 to 2.1).
  set -- $(measure heavy light 12)
  ratio=$(awk -v h="$1" -v l="$2" 'BEGIN { if (l > 0) printf "%.3f", h / l; else print "none" }')
  say "weights 512 and 256 on CPU 1: heavy ran $1 s, light $2 s in $3 s: ratio $ratio"
  if awk -v r="$ratio" 'BEGIN { exit !(r >= 1.9 && r <= 2.1) }'; then
    say "xm sched-credit: heavy got twice light's CPU time, within 5%"
  else
    fail "xm sched-credit: heavy got $ratio times light's CPU time, not 2 within 5%"
  fi
  # A cap of 25% for light: a quarter of the time that passes (within 5%), the rest heavy's.
  run_xm "xm sched-credit -d light -c 25" xm sched-credit -d light -c 25
  run_xm "xm sched-credit after the cap" xm sched-credit
  set -- $(measure light heavy 12)
  share=$(awk -v l="$1" -v t="$3" 'BEGIN { if (t > 0) printf "%.2f", 100 * l / t; else print "none" }')
  say "cap 25 on light: light ran $1 s, heavy $2 s in $3 s: light's share $share%"
  if awk -v p="$share" 'BEGIN { exit !(p >= 23.75 && p <= 26.25) }'; then
    say "xm sched-credit -c: light kept to its cap, within 5%"
  else
    fail "xm sched-credit -c: light had $share% of CPU 1, not 25% within 5%"
  fi
  # What a user may get wrong.
  run_xm "xm sched-credit bad weight" xm sched-credit -d light -w 0
  run_xm "xm sched-credit bad cap" xm sched-credit -d light -c 101
  run_xm "xm sched-credit without -d" xm sched-credit -w 512
  run_xm "xm sched-credit nosuch" xm sched-credit -d nosuch
  run_xm "xm sched-credit -d light" xm sched-credit -d light
  run_xm "xm destroy light" xm destroy light
  run_xm "xm destroy heavy" xm destroy heavy
  run_xm "xm vcpu-pin Domain-0 back" xm vcpu-pin Domain-0 all all
  run_xm "xm vcpu-list Domain-0" xm vcpu-list Domain-0
}

# tools/bench-pvio's figures (vireo.xm=pvio-bench): Domain-0's dd on an image in its RAM,
# then a domU's on the same image through its virtio disk (vireo.bench=pvio), the domU's
# exits per 4 KiB request, and its ping of Domain-0.
xm_pvio_bench() {
  trap '' PIPE
  make_bridge
  dd if=/dev/zero of=/tmp/bench.img bs=1M count=64 2> /dev/null
  # Busybox's dd says no rate: the kernel's clock times it.
  timed_dd() {
    start=$(now_ns)
    dd "$@" 2> /dev/null
    end=$(now_ns)
    echo "33554432 bytes $(awk "BEGIN { printf \"%.3f\", ($end - $start) / 1e9 }") s"
  }
  say "bench: dom0 write $(timed_dd if=/dev/zero of=/tmp/bench.img bs=1M count=32 conv=fsync,notrunc)"
  say "bench: dom0 read $(timed_dd if=/tmp/bench.img of=/dev/null bs=1M count=32)"
  linux_domu_config bench 128 "panic=-1 vireo.bench=pvio vireo.ip=10.0.0.2" \
    "disk = [ 'target=/tmp/bench.img,vdev=xvda,access=rw' ]" \
    "vif = [ 'bridge=xenbr0' ]" \
    'on_poweroff = "preserve"'
  rm -f /tmp/keys
  mkfifo /tmp/keys
  run_xm "xm create bench" xm create /tmp/bench.cfg
  console_open bench /tmp/bench.out
  exits() { xm vcpu-list --exits bench | tail -n 1 | awk '{ print $7 }'; }
  # dom0_exits: its vCPUs' exits, all together.
  dom0_exits() { xm vcpu-list --exits Domain-0 | awk 'NR > 1 { n += $7 } END { print n }'; }
  # busy NAME: the CPU seconds its vCPUs have had (xm vcpu-list's Time column).
  busy() { xm vcpu-list "$1" | awk 'NR > 1 { t += $6 } END { printf "%.1f", t }'; }
  if wait_quietly /tmp/bench.out "VIREO-BENCH: 4k ready"; then
    before=$(exits)
    dom0_exits_before=$(dom0_exits)
    start=$(now_ns)
    dom0_before=$(busy Domain-0)
    domu_before=$(busy bench)
    printf 'go\n' >&3
    wait_quietly /tmp/bench.out "VIREO-BENCH: 4k done"
    end=$(now_ns)
    dom0_after=$(busy Domain-0)
    domu_after=$(busy bench)
    after=$(exits)
    dom0_exits_after=$(dom0_exits)
    say "bench: domU exits per 4 KiB O_DIRECT read: $(awk "BEGIN { printf \"%.1f\", ($after - $before) / 2000 }")"
    say "bench: Domain-0 exits per 4 KiB O_DIRECT read: $(awk "BEGIN { printf \"%.1f\", ($dom0_exits_after - $dom0_exits_before) / 2000 }")"
    # Where a request's time goes: busy vCPUs, or waiting with nothing to run.
    say "bench: 4 KiB reads took $(awk "BEGIN { printf \"%.1f\", ($end - $start) / 1e9 }") s; vCPUs busy meanwhile: Domain-0 $(awk "BEGIN { printf \"%.1f\", $dom0_after - $dom0_before }") s, domU $(awk "BEGIN { printf \"%.1f\", $domu_after - $domu_before }") s"
    # The device model's map cache (dom0/devmodel/foreign_mapcache.hpp): it logs its
    # count of mappings at 64, 128, 256, ...; none logged is fewer than 64.
    mapped=$(sed -n 's/.*foreign mappings: \([0-9]*\) buckets.*/\1/p' /var/log/vireo/dm-bench.log 2> /dev/null | tail -n 1)
    say "bench: device model buckets mapped by now: ${mapped:-fewer than 64}"
  fi
  wait_ended bench
  console_close
  run_xm "xm destroy bench" xm destroy bench
  rm -f /tmp/keys
}

# mem_of NAME: its Mem column in xm list (MiB).
mem_of() { xm list "$1" 2> /dev/null | tail -n 1 | awk '{ print $3 }'; }
# wait_mem NAME MIB: until xm list shows MIB for NAME, up to 300 s.
wait_mem() {
  for _ in $(seq 300); do
    [ "$(mem_of "$1")" = "$2" ] && return 0
    sleep 1
  done
  return 1
}

# xm mem-set: a 256 MiB domU with a shell (and a disk, so that it has a device model)
# gives half its memory back through its virtio balloon, which the host's free memory
# shows, answers on its console meanwhile, and takes it again.
xm_pvio_balloon() {
  trap '' PIPE
  dd if=/dev/zero of=/tmp/roomy.img bs=1M count=4 2> /dev/null
  linux_domu_config roomy 256 "panic=-1 vireo.shell" \
    "disk = [ 'target=/tmp/roomy.img,vdev=xvda,access=rw' ]"
  rm -f /tmp/keys
  mkfifo /tmp/keys
  run_xm "xm create roomy" xm create /tmp/roomy.cfg
  console_open roomy /tmp/roomy.out
  console_ready /tmp/roomy.out || fail "roomy's shell did not answer"
  roomy_free_before=$(free_mib)
  run_xm "xm mem-set roomy 128" xm mem-set roomy 128
  wait_mem roomy 128 || fail "roomy did not come down to 128 MiB (xm list shows $(mem_of roomy))"
  free_down=$(free_mib)
  rose=$((free_down - roomy_free_before))
  if [ $rose -ge 115 ]; then
    say "pvio: mem-set 128: roomy has $(mem_of roomy) MiB, free memory rose by $rose MiB (at least 90% of 128)"
  else
    fail "pvio: mem-set 128: free memory rose by $rose MiB only"
  fi
  : > /tmp/roomy.out
  console_ready /tmp/roomy.out && say "pvio: roomy's shell answers at 128 MiB"
  run_xm "xm mem-set roomy 256" xm mem-set roomy 256
  wait_mem roomy 256 || fail "roomy did not come back to 256 MiB (xm list shows $(mem_of roomy))"
  say "pvio: mem-set 256: roomy has $(mem_of roomy) MiB, free memory $(( $(free_mib) - roomy_free_before )) MiB from before"
  : > /tmp/roomy.out
  console_ready /tmp/roomy.out && say "pvio: roomy's shell answers at 256 MiB"
  run_xm "xm mem-set too much" xm mem-set roomy 300
  console_close
  run_xm "xm destroy roomy" xm destroy roomy
  sed 's/^/dm log: /' /var/log/vireo/dm-roomy.log 2> /dev/null | while IFS= read -r line; do say "$line"; done
  rm -f /tmp/keys
}

# net_domu_config NAME IP PEERS NC: /tmp/NAME.cfg, a domU with a virtio NIC on xenbr0
# (vireo.ip, vireo.ping, vireo.nc of the Linux tests' initramfs).
net_domu_config() {
  linux_domu_config $1 128 "panic=-1 vireo.ip=$2 vireo.ping=$3 vireo.nc=$4" \
    "vif = [ 'bridge=xenbr0' ]" \
    'on_poweroff = "preserve"' \
    'on_crash = "preserve"'
}

# make_bridge [ADDR]: xenbr0, ADDR/24 (10.0.0.1 without one), with Domain-0's NICs in it
# (as on Xen).
make_bridge() {
  brctl addbr xenbr0
  for nic in /sys/class/net/eth*; do [ -e "$nic" ] && brctl addif xenbr0 "$(basename "$nic")" && ip link set "$(basename "$nic")" up; done
  ip addr add "${1:-10.0.0.1}/24" dev xenbr0
  ip link set xenbr0 up
}

# Two domUs and Domain-0 on the bridge xenbr0, which also holds Domain-0's NIC (as on
# Xen): each pings the others, and 16 MiB go from one domU to the other through nc.
xm_pvio_network() {
  make_bridge
  say "pvio: bridge xenbr0 with $(ls /sys/class/net/xenbr0/brif | tr '\n' ' ')"
  net_domu_config net1 10.0.0.2 10.0.0.1,10.0.0.3 listen
  net_domu_config net2 10.0.0.3 10.0.0.1,10.0.0.2 send:10.0.0.2
  run_xm "xm create net1" xm create /tmp/net1.cfg
  run_xm "xm create net2" xm create /tmp/net2.cfg
  for peer in 10.0.0.2 10.0.0.3; do
    ok=0
    for _ in $(seq 300); do
      if ping -c 1 -W 1 $peer > /dev/null 2>&1; then ok=1; break; fi
    done
    if [ $ok = 1 ]; then say "pvio: Domain-0's ping of $peer answered"; else fail "pvio: Domain-0's ping of $peer unanswered"; fi
  done
  for name in net1 net2; do
    wait_ended $name || fail "$name did not end"
    run_xm "xm destroy $name" xm destroy $name
    sed 's/^/dm log: /' /var/log/vireo/dm-$name.log 2> /dev/null | while IFS= read -r line; do say "$line"; done
  done
  # Each device model ends once its domain is gone, and its tap goes with it.
  for _ in $(seq 60); do
    [ "$(ls /sys/class/net/xenbr0/brif | grep -c vif)" = 0 ] && break
    sleep 1
  done
  say "pvio: bridge ports at the end: $(ls /sys/class/net/xenbr0/brif | tr '\n' ' ')"
}

# xm save and restore (label migrate): a domU that counts a line a second with the
# checksums of a file in its RAM and of a block of its virtio disk (vireo.counter) is
# saved, restored, and counts on from where it stopped; with -c it runs on; damaged,
# cut and foreign files are refused and create nothing.
# What /tmp holds, and Domain-0's memory still available (its tmpfs needs both).
tmp_note() {
  say "xm save: $1: /tmp $(df -k /tmp | awk 'NR == 2 { print $3 " of " $2 }') KiB used, $(sed -n 's/^MemAvailable: *//p' /proc/meminfo) available"
}
# Only whole lines: the last may still be arriving, or have been cut by the save's pause
# (it is finished after the restore). xm console passes the domU's serial output as it is:
# lines end in CR LF.
whole_lines() { head -n "$(wc -l < "$1")" "$1" | tr -d '\r'; }
counts() { whole_lines "$1" | sed -n 's/.*VIREO-LINUX: count \([0-9]*\), .*disk md5 [0-9a-z]*$/\1/p'; }
# counted_on LAST FIRST SINCE: whether a counting domain that stopped at LAST, and whose
# console shows FIRST as its first count after it ran again, went on from where it
# stopped: FIRST is past LAST, by no more than it can count in the seconds since SINCE
# (date +%s, taken before it ran again: it counts once a second, and once at once after a
# pause), plus the line the pause may have cut in two. The console attaches some time
# after the domain runs again, the longer the more loaded the machine: the counts before
# that are not seen, and the bound grows with that time instead of guessing it.
counted_on() { [ "$2" -gt "$1" ] && [ "$2" -le $(($1 + 2 + $(date +%s) - $3)) ]; }
check_counts() {
  bad=$(whole_lines "$1" | grep 'VIREO-LINUX: count .*disk md5 [0-9a-z]*$' |
    grep -v "file md5 $counter_md5, moving ok, disk md5 $disk_md5\$" | head -n 1)
  [ -z "$bad" ] || fail "$2: a count line with other checksums: $bad"
  prev=""
  for n in $(counts "$1"); do
    [ -z "$prev" ] || [ "$n" -eq $((prev + 1)) ] || fail "$2: count $n after $prev"
    prev=$n
  done
}
# start_counter NAME OUT: a counting domU NAME (vireo.counter) with an 8 MiB virtio disk
# /tmp/NAME-disk.img it writes its pattern on (vireo.disk=write), its console in OUT,
# once it counted to 3.
start_counter() {
  dd if=/dev/zero of=/tmp/$1-disk.img bs=1M count=8 2> /dev/null
  linux_domu_config $1 128 "panic=-1 vireo.disk=write vireo.counter" \
    "disk = [ 'target=/tmp/$1-disk.img,vdev=xvda,access=rw' ]"
  run_xm "xm create $1" xm create /tmp/$1.cfg
  console_open $1 "$2"
  wait_for "$2" "VIREO-LINUX: count 3, " || fail "$1 did not count to 3"
}
# counter_setup: what a counting domU's lines must show ($counter_md5, $disk_md5);
# SIGPIPE ignored from then on. (console_open makes the keys FIFO, a new one each time.)
counter_setup() {
  trap - PIPE  # `yes` ends by SIGPIPE
  counter_md5=$(counter_md5_of)
  disk_md5=$(yes VIREO-DISK-PATTERN | head -c 4096 | md5sum | cut -d' ' -f1)
  trap '' PIPE
}
# save_restore_here NAME OUT: the counting domain NAME, its console open into OUT, saved
# into $img/NAME.sav and restored from it: it counts on from where it stopped, file and
# disk intact, its console again in OUT. The image stays.
save_restore_here() {
  run_xm "xm save $1" xm save $1 $img/$1.sav
  console_close > /dev/null
  last=$(counts "$2" | tail -n 1)
  check_counts "$2" "before the save"
  say "xm save: counted to $last, an image of $(($(stat -c %s $img/$1.sav) >> 20)) MiB"
  run_xm "xm list $1 after the save" xm list $1
  since=$(date +%s)
  run_xm "xm restore" xm restore $img/$1.sav
  console_open $1 "$2"
  wait_for "$2" "VIREO-LINUX: count $((last + 3)), " || fail "the restored $1 did not count to $((last + 3))"
  first=$(counts "$2" | head -n 1)
  check_counts "$2" "after the restore"
  # A line the save cut in two is finished after the restore, and not counted here.
  if counted_on "$last" "$first" "$since"; then
    say "xm restore: counts on from $last, file and disk intact"
  else
    fail "xm restore: the count went from $last to $first"
  fi
}
xm_save() {
  counter_setup
  # The images in RAM (tmpfs: half of Domain-0's, 102 MiB under Bochs), one at a time: a
  # 65 MiB image, the 8 MiB disk and a copy of half the image did not fit there (the
  # refused files below are that one image, changed in place).
  img=/tmp
  tmp_note "before the save"
  start_counter counter /tmp/count2.out
  save_restore_here counter /tmp/count2.out
  # Then the image is only what the refused files are made from (one in RAM at a time).
  mv $img/counter.sav $img/source.sav
  xm_migrate_here counter /tmp/count2.out
  xm_save_checkpoint
  # Files that must not make a domain, each the image changed in place: one byte of its
  # config changed (the first section: 32 bytes of header, 16 of section header, then the
  # text, at a place the image's contents do not move), then put back; cut in half (within
  # its memory); and a kernel.
  tmp_note "before the refused files"
  size=$(stat -c %s $img/source.sav)
  # A migration stream cut in the middle (a sender that went away): the receiver makes
  # nothing, and says so.
  start_receiver --port 8003
  head -c $((size / 2)) $img/source.sav | nc 127.0.0.1 8003 > /tmp/nc.out 2>&1
  wait_gone $receiver
  say "xm migrate-receive of a cut stream: exit status $?"
  while IFS= read -r line; do say "xm migrate-receive of a cut stream: $line"; done < /tmp/receive.out
  say "the cut stream's sender was told: $(head -n 1 /tmp/nc.out)"
  mv $img/source.sav $img/damaged.sav
  at=60
  byte=$(dd if=$img/damaged.sav bs=1 skip=$at count=1 2> /dev/null | od -An -tu1 | tr -d ' ')
  put_byte() { printf "\\$(printf %o $1)" | dd of=$img/damaged.sav bs=1 seek=$at conv=notrunc 2> /dev/null; }
  put_byte $((255 - byte))
  run_xm "xm restore damaged" xm restore $img/damaged.sav
  put_byte $byte
  mv $img/damaged.sav $img/cut.sav
  truncate -s $((size / 2)) $img/cut.sav
  run_xm "xm restore cut" xm restore $img/cut.sav
  rm -f $img/cut.sav
  run_xm "xm restore foreign" xm restore /domu/vmlinuz
  run_xm "xm list counter after the refused files" xm list counter
  left=$(ls /run/vireo/domains/*.cfg /run/vireo/dm-*.restore 2> /dev/null | tr '\n' ' ')
  [ -z "$left" ] || fail "left behind in /run/vireo: $left"
  rm -f /tmp/keys "$img"/*.sav
}
# xm_migrate_here NAME OUT: the counting domain NAME, its console open into OUT, migrated
# to this same host (127.0.0.1), without and with --live: xm migrate-receive makes
# NAME--incoming as the stream comes, the sender's copy becomes NAME--migratedaway for
# the handover, and the domain counts on from where it was, file and disk intact; a
# receiver that cannot make it leaves it running here. It leaves its console in OUT, as
# before.
xm_migrate_here() {
  # vireo.migrate=live: only with --live (under Bochs, where each costs minutes).
  modes=$(opt vireo.migrate) || modes="plain live"
  for mode in $modes; do
    start_receiver
    old=$(xm domid $1)
    since=$(date +%s)
    if [ $mode = live ]; then
      run_xm "xm migrate --live" xm migrate --live $1 127.0.0.1
    else
      run_xm "xm migrate" xm migrate $1 127.0.0.1
    fi
    [ "$status" = 0 ] || kill $receiver 2> /dev/null
    wait_gone $receiver
    say "xm migrate-receive ($mode): exit status $?"
    while IFS= read -r line; do say "xm migrate-receive ($mode): $line"; done < /tmp/receive.out
    # The sender's copy is gone, and its console with it: the lines it showed are all there.
    console_close > /dev/null
    last=$(counts "$2" | tail -n 1)
    check_counts "$2" "before xm migrate ($mode)"
    console_open $1 "$2"
    wait_for "$2" "VIREO-LINUX: count $((last + 3)), " || {
      fail "xm migrate ($mode): it did not count to $((last + 3))"
      console_report "$2"
    }
    first=$(counts "$2" | head -n 1)
    check_counts "$2" "after xm migrate ($mode)"
    if [ "$(xm domid $1)" = "$old" ]; then
      fail "xm migrate ($mode): $1 is still domain $old"
    elif counted_on "$last" "$first" "$since"; then
      say "xm migrate ($mode): counts on from $last, file and disk intact"
    else
      fail "xm migrate ($mode): the count went from $last to $first"
    fi
  done
  run_xm "xm list after xm migrate" xm list $1
  run_xm "xm migrate to nobody" xm migrate $1 127.0.0.1:8004
  # A receiver that cannot make the domain (one of its incoming name is there already):
  # the sender says why, and its domain runs on. (Not under Bochs: the refused stream
  # still goes whole, minutes there.)
  [ "$modes" = live ] && return
  # A receiver that takes domains only from another address (--from) refuses this one's,
  # and waits on; the sender's domain runs on here.
  start_receiver --from 10.9.9.9
  run_xm "xm migrate to a receiver that takes none from here" xm migrate $1 127.0.0.1
  wait_for /tmp/receive.out "refused a connection" || fail "xm migrate-receive --from did not refuse"
  kill $receiver 2> /dev/null
  wait $receiver
  while IFS= read -r line; do say "xm migrate-receive --from 10.9.9.9: $line"; done < /tmp/receive.out
  run_xm "xm create $1--incoming" xm create /domu/web.cfg name=$1--incoming memory=96 -p
  start_receiver
  run_xm "xm migrate refused" xm migrate $1 127.0.0.1
  [ "$status" = 1 ] || kill $receiver 2> /dev/null
  wait_gone $receiver
  say "xm migrate-receive (refusing): exit status $?"
  while IFS= read -r line; do say "xm migrate-receive (refusing): $line"; done < /tmp/receive.out
  now=$(counts "$2" | tail -n 1)
  wait_for "$2" "VIREO-LINUX: count $((now + 2)), " && say "xm migrate refused: $1 runs on here"
  run_xm "xm destroy $1--incoming" xm destroy $1--incoming
}
# save -c of the restored counter: it runs on, and its image restores to the count it was
# taken at.
xm_save_checkpoint() {
  rm -f $img/source.sav
  run_xm "xm save -c" xm save -c counter $img/counter-c.sav
  now=$(counts /tmp/count2.out | tail -n 1)
  wait_for /tmp/count2.out "VIREO-LINUX: count $((now + 2)), " && say "xm save -c: it runs on"
  check_counts /tmp/count2.out "after xm save -c"
  run_xm "xm list after save -c" xm list counter
  run_xm "xm destroy counter" xm destroy counter
  console_close > /dev/null
  wait_dm_gone counter
  # The -c image: from the count it was saved at, at most $now.
  run_xm "xm restore -c image" xm restore $img/counter-c.sav
  console_open counter /tmp/count3.out
  wait_for /tmp/count3.out "VIREO-LINUX: count $((now + 2)), " || fail "the -c image did not count to $((now + 2))"
  check_counts /tmp/count3.out "after restoring the -c image"
  first=$(counts /tmp/count3.out | head -n 1)
  if [ "$first" -le $((now + 1)) ]; then say "xm restore -c image: counts on from the checkpoint"; else fail "xm restore -c image: its count began at $first, after $now"; fi
  run_xm "xm destroy counter again" xm destroy counter
  console_close > /dev/null
  wait_dm_gone counter
  mv $img/counter-c.sav $img/source.sav
}

# tools/bench-save's figures (vireo.xm=save-bench): a counting domU of 1 GiB
# (vireo.counter: 64 KiB rewritten each second) is saved into Domain-0's RAM, restored,
# and live-migrated to this same host; xm's own lines carry the times, rounds and downtime.
xm_save_bench() {
  trap '' PIPE
  mkfifo /tmp/keys
  linux_domu_config big 1024 "panic=-1 vireo.counter"
  run_xm "bench: xm create" xm create /tmp/big.cfg
  console_open big /tmp/big.out
  wait_for /tmp/big.out "VIREO-LINUX: count 3, " || fail "bench: big did not count to 3"
  run_xm "bench: xm save" xm save big /tmp/big.sav
  console_close > /dev/null
  wait_dm_gone big
  say "bench: image $(($(stat -c %s /tmp/big.sav) >> 20)) MiB"
  run_xm "bench: xm restore" xm restore /tmp/big.sav
  rm -f /tmp/big.sav
  console_open big /tmp/big.out
  wait_for /tmp/big.out "VIREO-LINUX: count 6, " || fail "bench: big did not count on after its restore"
  start_receiver
  run_xm "bench: xm migrate --live" xm migrate --live big 127.0.0.1
  wait_gone $receiver
  while IFS= read -r line; do say "bench: xm migrate-receive: $line"; done < /tmp/receive.out
  console_close > /dev/null
  run_xm "bench: xm destroy" xm destroy big
  wait_dm_gone big
  rm -f /tmp/keys
}

# Across vendors (label migrate, vireo.cross): a counting domU, mover, made with xm's
# default CPUID (migratable), is saved under QEMU (AMD-V) and restored under Bochs (VT-x)
# by the next test, which saves its own counting domU (made there, its TSC at Bochs'
# rate) in its place, for the one after to restore under QEMU; each counts on from where
# it stopped, its file and disk intact. An image and its disk travel on the exchange disk
# (tests/boot/machine_devices.py, --exchange-disk): a first sector that says
# VIREO-EXCHANGE, then a tar archive at 1 MiB, with exchange.origin: the domain's name,
# the count it was saved at, and the hypervisor's virt_caps where it was.
exchange_disk() {
  for d in $(ls /sys/block | grep -E '^(vd|sd|hd)[a-z]+$'); do
    [ "$(header $d)" = VIREO-EXCHANGE ] && echo /dev/$d && return 0
  done
  return 1
}
virt_caps() { xm info | sed -n 's/^virt_caps *: //p'; }
# mover_to_exchange NAME OUT: the counting domain NAME, its console open into OUT, saved
# onto the exchange disk with its disk /tmp/NAME-disk.img.
mover_to_exchange() {
  dev=$(exchange_disk) || { fail "cross-vendor: no disk says VIREO-EXCHANGE"; return 1; }
  rm -f /tmp/$1.sav
  run_xm "xm save $1" xm save $1 /tmp/$1.sav
  console_close > /dev/null
  wait_dm_gone $1  # its disk file complete
  check_counts "$2" "$1 before its save"
  last=$(counts "$2" | tail -n 1)
  printf '%s\n%s\n%s\n' "$1" "$last" "$(virt_caps)" > /tmp/exchange.origin
  if (cd /tmp && tar -cf - exchange.origin $1.sav $1-disk.img) | dd of=$dev bs=1M seek=1 2> /tmp/dd.err &&
    sync; then
    say "cross-vendor: $1 saved under $(virt_caps) at count $last, on the exchange disk"
  else
    fail "cross-vendor: writing the exchange disk $dev: $(cat /tmp/dd.err)"
  fi
  rm -f /tmp/$1.sav /tmp/$1-disk.img /tmp/exchange.origin
}
# mover_from_exchange [keep]: the domain on the exchange disk (its name into $mover),
# restored here: it counts on; then destroyed, unless `keep`.
mover_from_exchange() {
  dev=$(exchange_disk) || { fail "cross-vendor: no disk says VIREO-EXCHANGE"; return 1; }
  rm -f /tmp/exchange.origin
  dd if=$dev bs=1M skip=1 2> /dev/null | (cd /tmp && tar -xf -)
  [ -f /tmp/exchange.origin ] || { fail "cross-vendor: the exchange disk holds no domain"; return 1; }
  mover=$(sed -n 1p /tmp/exchange.origin)
  last=$(sed -n 2p /tmp/exchange.origin)
  say "cross-vendor: $mover, saved under $(sed -n 3p /tmp/exchange.origin) at count $last, restored under $(virt_caps)"
  since=$(date +%s)
  run_xm "xm restore $mover" xm restore /tmp/$mover.sav
  rm -f /tmp/$mover.sav /tmp/exchange.origin
  console_open $mover /tmp/$mover.out
  wait_for /tmp/$mover.out "VIREO-LINUX: count $((last + 3)), " || fail "$mover did not count to $((last + 3))"
  check_counts /tmp/$mover.out "$mover after its restore"
  first=$(counts /tmp/$mover.out | head -n 1)
  if counted_on "$last" "$first" "$since"; then
    say "cross-vendor: $mover counts on from $last, file and disk intact"
  else
    fail "cross-vendor: $mover's count went from $last to $first"
  fi
  [ "$1" = keep ] && return
  run_xm "xm destroy $mover" xm destroy $mover
  console_close > /dev/null
  wait_dm_gone $mover
  rm -f /tmp/$mover-disk.img
}
# xm_cross_vendor send (QEMU: a new counting domU onto the exchange disk), pass (Bochs:
# the one from QEMU restored, migrated live to this host, then saved onto the exchange
# disk again) or receive (QEMU: restored). A domU made under
# Bochs cannot go to QEMU: QEMU's TCG lacks CPUID features (vme, rdseed, sha_ni,
# 3dnowprefetch) Bochs' Tiger Lake gives a migratable domain, and its restore is refused.
xm_cross_vendor() {
  counter_setup
  case "$1" in
    send) start_counter mover /tmp/mover.out && mover_to_exchange mover /tmp/mover.out ;;
    pass)
      if mover_from_exchange keep; then
        xm_migrate_here $mover /tmp/$mover.out
        mover_to_exchange $mover /tmp/$mover.out
      fi
      ;;
    receive) mover_from_exchange ;;
  esac
  rm -f /tmp/keys
}

# Live migration between two machines (vireo.xm=migrate-a and migrate-b): A makes the
# counter domU, with a virtio NIC on xenbr0 (10.0.0.10), whose count lines also go over
# one TCP connection to A's Domain-0 (vireo.counter_tcp); xm migrate --live moves it to B,
# where xm migrate-receive waits. B's console shows it counting on from where it was, its
# file intact, and A's end of the TCP connection gets every count, one by one, across the
# move. A keeps the figures (rounds, downtime) in its xm migrate line.
counter_md5_of() { yes VIREO-COUNTER-FILE | head -c 1048576 | md5sum | cut -d' ' -f1; }
migrate_sender() {
  counter_md5=$(counter_md5_of)
  disk_md5=none
  trap '' PIPE
  mkfifo /tmp/keys
  linux_domu_config counter 128 "panic=-1 vireo.ip=10.0.0.10 vireo.counter vireo.counter_tcp=10.0.0.1:5001" \
    "vif = [ 'bridge=xenbr0' ]"
  # Its input never ends (a background job's would be /dev/null, whose end nc takes for
  # the end of the session, and closes the connection).
  sleep 100000 | nc -l -p 5001 > /tmp/tcp.out 2> /dev/null &
  tcp=$!
  run_xm "xm create counter" xm create /tmp/counter.cfg
  console_open counter /tmp/count1.out
  wait_for /tmp/tcp.out "VIREO-LINUX: count 3, " || fail "migrate: no count came over the domU's TCP connection"
  # B's xm migrate-receive may not listen yet: a refused connection leaves the domain here.
  for _ in $(seq 300); do
    xm migrate --live counter 10.0.0.2 > /tmp/xm.out 2>&1 && break
    grep -Eq "Connection refused|No route to host" /tmp/xm.out || break
    sleep 1
  done
  while IFS= read -r line; do say "xm migrate --live: $line"; done < /tmp/xm.out
  console_close > /dev/null
  last=$(counts /tmp/count1.out | tail -n 1)
  [ -n "$last" ] || fail "migrate: no count on A's console"
  check_counts /tmp/count1.out "on A's console"
  wait_for /tmp/tcp.out "VIREO-LINUX: count $((last + 5)), " ||
    fail "migrate: the TCP connection carried no count after $last: $(tail -n 1 /tmp/tcp.out)"
  check_counts /tmp/tcp.out "over the TCP connection"
  say "migrate: A's end of the domU's TCP connection got counts $(counts /tmp/tcp.out | head -n 1) to $(counts /tmp/tcp.out | tail -n 1), one by one, across the move after $last"
  kill $tcp 2> /dev/null
  pkill -f "^sleep 100000\$"
  rm -f /tmp/keys
}
migrate_receiver() {
  counter_md5=$(counter_md5_of)
  disk_md5=none
  trap '' PIPE
  mkfifo /tmp/keys
  # Bounded: a sender that never comes is a failure, not a hang.
  run_xm "xm migrate-receive" timeout 900 xm migrate-receive --from 10.0.0.1
  console_open counter /tmp/count.out
  wait_for /tmp/count.out "VIREO-LINUX: count " || fail "migrate: no count on B's console"
  first=$(counts /tmp/count.out | head -n 1)
  wait_for /tmp/count.out "VIREO-LINUX: count $((first + 3)), " || fail "migrate: it did not count on here after $first"
  check_counts /tmp/count.out "on B's console"
  say "migrate: counter counts on here from $first, its file intact"
  console_close > /dev/null
  rm -f /tmp/keys
}

# One of two machines joined by a network of their own (tests/boot/run_qemu_pair.py
# --link: a cable between their NICs, nothing else on it), as live migration uses
# (pair_setup a or b, then the work, then pair_finish): the bridge xenbr0 with this
# Domain-0's NIC and its address (A 10.0.0.1, B 10.0.0.2), a ping of the other answered,
# and at the end a word to the other that this side is done, through nc on port 5100. The
# power-off waits for the other's word, so neither machine leaves while the other still
# needs it. Every wait is bounded; the machines boot at their own pace, and the ping tries
# cover the difference. pair_setup returns 1 when the other cannot be reached.
pair_setup() {
  case $1 in
    a) addr=10.0.0.1 peer=10.0.0.2 other=b ;;
    *) addr=10.0.0.2 peer=10.0.0.1 other=a ;;
  esac
  if ! ls -d /sys/class/net/eth* > /dev/null 2>&1; then
    fail "pair: no NIC to reach $peer through"
    return 1
  fi
  make_bridge $addr
  say "pair: bridge xenbr0 with $(ls /sys/class/net/xenbr0/brif | tr '\n' ' ')address $addr"
  # The other's word, whenever it comes: the listener's shell reads the connection to its
  # end, and closes it only then, so the sender's nc succeeds only once it was read.
  rm -f /tmp/pair.word
  nc -l -p 5100 -e /bin/sh -c 'cat > /tmp/pair.word.part; mv /tmp/pair.word.part /tmp/pair.word' < /dev/null > /dev/null 2>&1 &
  listener=$!
  # Up to 300 tries (an unanswered one waits 1 s for its answer): the other machine may
  # still be booting.
  ok=0
  for _ in $(seq 300); do
    if ping -c 1 -W 1 $peer > /dev/null 2>&1; then ok=1; break; fi
  done
  if [ $ok = 1 ]; then
    say "pair: ping of $peer answered"
  else
    fail "pair: ping of $peer unanswered"
    kill $listener 2> /dev/null
    return 1
  fi
}
pair_finish() {
  # This side is done: said to the other (its listener may not be up yet: retried). nc's
  # -w bounds only its connect; timeout bounds the wait for the other's end to close.
  told=0
  for _ in $(seq 120); do
    if echo "pair-$1 done" | timeout 60 nc -w 10 $peer 5100 > /dev/null 2>&1; then told=1; break; fi
    sleep 1
  done
  if [ $told = 1 ]; then say "pair: told $peer that this side is done"; else fail "pair: could not tell $peer that this side is done"; fi
  # The other's word: it answered this side's ping, so it is past its bridge and pinging
  # this side, which answers.
  heard=0
  for _ in $(seq 300); do
    if [ -f /tmp/pair.word ]; then heard=1; break; fi
    sleep 1
  done
  if [ $heard = 1 ] && [ "$(cat /tmp/pair.word)" = "pair-$other done" ]; then
    say "pair: $peer is done too"
  elif [ $heard = 1 ]; then
    fail "pair: $peer said '$(cat /tmp/pair.word)', not 'pair-$other done'"
  else
    fail "pair: no word from $peer that it is done"
  fi
  kill $listener 2> /dev/null
}

run_xm() {
  label=$1
  shift
  "$@" > /tmp/xm.out 2>&1
  status=$?
  while IFS= read -r line; do say "$label: $line"; done < /tmp/xm.out
  say "$label: exit status $status"
}
free_mib() { xm info | sed -n 's/^free_memory *: //p'; }
# The host's memory that no domU holds, in KiB: its free memory plus what Domain-0 costs.
# Domain-0's nested tables grow when domUs' pages are mapped into it (a foreign mapping
# splits the large pages around its pages, and the tables stay, charged to Domain-0),
# which is no domU's memory left behind.
host_kib() {
  free=$(xm info | sed -n 's/^free_memory_kib *: //p')
  dom0=$(xm list --json | sed -n 's/.*"domid": 0,.*"charged_kib": \([0-9]*\).*/\1/p')
  echo $((free + dom0))
}
# A device model ends on its own once its domain is gone; until then it may still map the
# domain's pages, which keeps the domain's structures in the hypervisor.
wait_device_models() {
  for _ in $(seq 60); do
    grep -qx vireo-dm /proc/[0-9]*/comm 2> /dev/null || return 0
    sleep 1
  done
  fail "a device model still runs 60 s after the checks destroyed their domains"
}
# Every domU's memory and structures came back (label, host_kib before): exactly, but for
# the hypervisor heap's empty pages, one per size class kept for the next allocation
# (mm/heap.hpp: 8 classes, 32 KiB), which are nobody's leak.
check_memory_back() {
  wait_device_models
  after=$(host_kib)
  say "$1: free memory and Domain-0's cost $after KiB, $2 KiB before"
  lost=$(($2 - after))
  if [ $lost -le 32 ] && [ $lost -ge -32 ]; then
    say "free memory after $1: as before ($(free_mib) MiB)"
  else
    fail "free memory after $1: $lost KiB lost"
  fi
}
# The domU images: on Debian's root filesystem in /domu (tools/dom0-rootfs put them
# there), else on the disk labelled vireo-domu.
mount_domu_disk() {
  [ -n "$debian_root" ] && [ -f /domu/web.cfg ] && return 0
  dev=$(findfs LABEL=vireo-domu 2> /dev/null) && mkdir -p /domu && mount -t ext4 -o ro "$dev" /domu
}

xm_mode=$(opt vireo.xm)
if [ "$xm_mode" = lifecycle ] || [ "$xm_mode" = one ] || [ "$xm_mode" = pvio ] || [ "$xm_mode" = pvio-bench ] ||
  [ "$xm_mode" = sched ] || [ "$xm_mode" = save ] || [ "$xm_mode" = cross-pass ] ||
  [ "$xm_mode" = cross-restore ] || [ "$xm_mode" = save-bench ]; then
  if mount_domu_disk; then
    host_before=$(host_kib)
    say "free memory before the checks: $(free_mib) MiB"
    case "$xm_mode" in
      one) xm_one_domu ;;
      pvio) xm_pvio ;;
      pvio-bench) xm_pvio_bench ;;
      save-bench) xm_save_bench ;;
      sched) xm_sched ;;
      save)
        xm_save
        cross=$(opt vireo.cross) && xm_cross_vendor "$cross"
        ;;
      cross-restore) xm_cross_vendor receive ;;
      cross-pass) xm_cross_vendor pass ;;
      *) xm_console_and_lifecycle ;;
    esac
    check_memory_back "the lifecycle checks" "$host_before"
  else
    fail "no disk labelled vireo-domu to create domUs from"
  fi
elif [ "$xm_mode" = migrate-a ] || [ "$xm_mode" = migrate-b ]; then
  if mount_domu_disk; then
    host_before=$(host_kib)
    if pair_setup "${xm_mode#migrate-}"; then
      if [ "$xm_mode" = migrate-a ]; then migrate_sender; else migrate_receiver; fi
      pair_finish "${xm_mode#migrate-}"
      [ "$xm_mode" = migrate-b ] && run_xm "xm destroy counter" xm destroy counter
    fi
    check_memory_back "the migration" "$host_before"
  else
    fail "no disk labelled vireo-domu to create domUs from"
  fi
elif opt vireo.xm > /dev/null; then
  run_xm "xm info" xm info
  run_xm "xm list" xm list
  run_xm "xm list --json" xm list --json
  # The document alone, for the harness to parse (--expect-json).
  xm list --json | while IFS= read -r line; do say "json: $line"; done
  run_xm "xm list Domain-0" xm list Domain-0
  run_xm "xm list nosuch" xm list nosuch
  run_xm "xm domid" xm domid Domain-0
  run_xm "xm vcpu-list" xm vcpu-list
  grep -q '^nobody:' /etc/passwd || echo "nobody:x:65534:65534:nobody:/:/bin/sh" >> /etc/passwd
  run_xm "xm list as nobody" su nobody -s /bin/sh -c "xm list"
  # A bystander domain (tests/guests/bystander.cpp), where there is one, paused, let run,
  # asked to shut down (it has no power button), and destroyed.
  if xm domid bystander > /dev/null 2>&1; then
    run_xm "xm pause" xm pause bystander
    run_xm "xm list paused" xm list bystander
    run_xm "xm unpause" xm unpause "$(xm domid bystander)"
    run_xm "xm shutdown" xm shutdown bystander
    run_xm "xm destroy" xm destroy bystander
    run_xm "xm list after destroy" xm list
  fi
  run_xm "xm destroy Domain-0" xm destroy 0
  # xm create from the disk of domU images (label vireo-domu), where there is one.
  if mount_domu_disk; then
    host_before=$(host_kib)
    # A 64-bit and a 32-bit (i386) domU side by side.
    run_xm "xm create" xm create /domu/web.cfg
    run_xm "xm create 32-bit" xm create /domu/web32.cfg
    run_xm "xm list with web" xm list
    say "xm list rows: $(xm list | tail -n +2 | wc -l)"
    # They report and power themselves off (the Linux tests' initramfs): wait for that.
    for name in web web32; do
      for _ in $(seq 600); do
        row=$(xm list $name 2> /dev/null | tail -n 1) || break  # not there: nothing to wait for
        case "$row" in *---s--*) break ;; esac
        sleep 1
      done
      say "$name ended: $(xm list $name | tail -n 1)"
    done
    run_xm "xm destroy web" xm destroy web
    run_xm "xm destroy web32" xm destroy web32
    run_xm "xm create bad key" xm create /domu/bad-key.cfg
    run_xm "xm create too big" xm create /domu/web.cfg name=big memory=60000
    run_xm "xm create garbage" xm create /domu/web.cfg name=garbage kernel=/domu/web.cfg
    run_xm "xm list after create errors" xm list
    # 50 create/destroy cycles: every page and structure comes back each time.
    cycles=0
    start=$(seconds)
    for _ in $(seq 50); do
      if xm create /domu/web.cfg name=cycle > /tmp/cycle.out 2>&1 && xm destroy cycle >> /tmp/cycle.out 2>&1; then
        cycles=$((cycles + 1))
      else
        fail "xm create and destroy cycle failed: $(tail -n 1 /tmp/cycle.out)"
        break
      fi
    done
    say "xm create and destroy: $cycles of 50 cycles in $(awk "BEGIN { print $(seconds) - $start }") s"
    check_memory_back "xm create and destroy" "$host_before"
  fi
fi

say "uptime $(seconds)"
if [ "$failures" = 0 ]; then say "all checks passed"; else say "$failures checks FAILED"; fi
if opt vireo.shell > /dev/null; then
  # Said by the shell's own process once it has the console as its terminal, so that
  # what is typed after the line reaches the shell (typed earlier, the terminal's
  # new session could drop it).
  if [ -n "$debian_root" ]; then
    # Debian's own: bash as a login shell in root's home, with Debian's PATH.
    setsid cttyhack env -i PATH="$debian_path" HOME=/root TERM=vt100 SHELL=/bin/bash \
      bash -c 'echo "VIREO-DOM0: shell on the console (exit to power off)"; cd; exec bash -l'
  else
    setsid cttyhack sh -c 'echo "VIREO-DOM0: shell on the console (exit to power off)"; exec sh'
  fi
fi
say "powering off"
drain_console
poweroff -f
