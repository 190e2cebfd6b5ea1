package io.spindle.backends.raid;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spindle.backends.IoKit;
import io.spindle.backends.Vbdevs;
import io.spindle.backends.error.ErrorModule;
import io.spindle.backends.malloc.MallocModule;
import io.spindle.bdev.Bdev;
import io.spindle.bdev.BdevChannel;
import io.spindle.bdev.BdevDescriptor;
import io.spindle.backends.BackendHarness;
import io.spindle.bdev.BdevOptions;
import io.spindle.bdev.ClaimType;
import io.spindle.bdev.DmaBuffer;
import io.spindle.bdev.IoCallback;
import io.spindle.bdev.io.IoStatus;
import io.spindle.bdev.io.IoType;
import io.spindle.runtime.Errno;
import io.spindle.runtime.IoChannel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The raid module on manual reactors: SPDK's unit cases by name ({@code bdev_raid_ut.c}, {@code raid0_ut.c},
 * {@code raid1_ut.c}, {@code concat_ut.c}), run against real malloc (and error-injecting) bases instead of SPDK's
 * stubs; each checks the same rule through the public behaviour (what lands on which base, statuses, states).
 */
@Timeout(60)
class RaidModuleTest {
    static final ActorTestKit kit = ActorTestKit.create("raid-test");

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static final class Env implements AutoCloseable {
        final RaidModule raid = new RaidModule();
        final ErrorModule error = new ErrorModule();
        final BackendHarness h = new BackendHarness(kit, 2, BdevOptions.defaults(512), raid, error);
        final IoKit io = new IoKit(h.layer);

        void mallocs(String prefix, int n, long blocks, int bs) {
            for (int i = 0; i < n; i++) {
                h.await(h.malloc.create(h.layer, MallocModule.Options.of(prefix + i, blocks, bs)));
            }
        }

        void create(String name, RaidLevel level, int stripKb, String... bases) {
            h.await(raid.create(h.layer, new RaidModule.Options(name, level, stripKb, List.of(bases), null)));
            h.poll();
        }

        int createErrno(String name, RaidLevel level, int stripKb, String... bases) {
            try {
                h.await(raid.create(h.layer, new RaidModule.Options(name, level, stripKb, List.of(bases), null)));
                return 0;
            } catch (RuntimeException e) {
                return Vbdevs.errnoOf(e, Errno.EIO);
            }
        }

        ObjectNode info(String name) {
            for (ObjectNode o : raid.getBdevs(RaidModule.Category.ALL)) {
                if (o.get("name").asText().equals(name)) {
                    return o;
                }
            }
            return null;
        }

        long reads(String bdev) {
            return h.await(h.layer.stats(bdev)).numReadOps();
        }

        @Override
        public void close() {
            h.close();
        }
    }

    // ------------------------------------------------------------------ bdev_raid_ut.c

    @Nested
    class BdevRaidUt {
        @Test
        @DisplayName("test_create_raid: a create over present bases gives an ONLINE raid matching the request; its bases are claimed")
        void testCreateRaid() {
            try (Env e = new Env()) {
                e.mallocs("M", 4, 1024, 4096);
                e.create("raid1", RaidLevel.RAID0, 64, "M0", "M1", "M2", "M3");
                Bdev r = e.h.layer.get("raid1");
                assertThat(r).isNotNull();
                assertThat(r.blockSize()).isEqualTo(4096);
                assertThat(r.numBlocks()).isEqualTo(4 * 1024);
                assertThat(r.optimalIoBoundary()).as("strip of 64 KiB").isEqualTo(16);
                ObjectNode i = e.info("raid1");
                assertThat(i.get("state").asText()).isEqualTo("online");
                assertThat(i.get("raid_level").asText()).isEqualTo("raid0");
                assertThat(i.get("strip_size_kb").asInt()).isEqualTo(64);
                assertThat(i.get("num_base_bdevs").asInt()).isEqualTo(4);
                assertThat(i.get("num_base_bdevs_discovered").asInt()).isEqualTo(4);
                assertThat(i.get("num_base_bdevs_operational").asInt()).isEqualTo(4);
                assertThat(i.get("superblock").asBoolean()).isFalse();
                assertThat(i.get("base_bdevs_list")).hasSize(4);
                assertThat(i.at("/base_bdevs_list/2/name").asText()).isEqualTo("M2");
                assertThat(i.at("/base_bdevs_list/2/is_configured").asBoolean()).isTrue();
                assertThat(i.at("/base_bdevs_list/2/data_size").asLong()).isEqualTo(1024);
                for (int k = 0; k < 4; k++) {
                    assertThat(e.h.layer.get("M" + k).claimType()).isEqualTo(ClaimType.EXCL_WRITE);
                    assertThat(e.h.layer.get("M" + k).claimModule()).isSameAs(e.raid);
                }
                var json = r.toJson(new com.fasterxml.jackson.databind.ObjectMapper());
                assertThat(json.at("/driver_specific/raid/state").asText()).isEqualTo("online");
                assertThat(json.get("product_name").asText()).isEqualTo("Raid Volume");
            }
        }

        @Test
        @DisplayName("test_delete_raid: delete removes the raid from the list and releases its bases")
        void testDeleteRaid() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                assertThat(e.h.await(e.raid.delete(e.h.layer, "r"))).isZero();
                e.h.poll();
                assertThat(e.raid.getBdevs(RaidModule.Category.ALL)).isEmpty();
                assertThat(e.h.layer.get("r")).isNull();
                assertThat(e.h.layer.get("M0").claimed()).isFalse();
                assertThat(e.h.layer.get("M1").claimed()).isFalse();
            }
        }

        @Test
        @DisplayName("test_create_raid_invalid_args: an invalid level, a strip that is not a power of two (1231), a duplicate name, claimed bases"
                + " and a base claimed by another raid are refused; a base that does not exist is accepted and the raid is CONFIGURING")
        void testCreateRaidInvalidArgs() {
            try (Env e = new Env()) {
                e.mallocs("M", 6, 256, 512);
                assertThat(e.createErrno("r", null, 64, "M0", "M1")).isEqualTo(Errno.EINVAL);
                assertThat(e.createErrno("r", RaidLevel.RAID0, 1231, "M0", "M1")).isEqualTo(Errno.EINVAL);
                assertThat(e.createErrno("r", RaidLevel.RAID0, 0, "M0", "M1")).isEqualTo(Errno.EINVAL);
                assertThat(e.createErrno("r", RaidLevel.RAID1, 64, "M0", "M1")).as("raid1 takes no strip").isEqualTo(Errno.EINVAL);
                assertThat(e.createErrno("r", RaidLevel.RAID1, 0, "M0")).as("raid1 needs two").isEqualTo(Errno.EINVAL);
                assertThat(e.createErrno("r", RaidLevel.RAID0, 64, "M0", "")).isEqualTo(Errno.EINVAL);
                e.create("r", RaidLevel.RAID0, 64, "M0", "M1");
                assertThat(e.createErrno("r", RaidLevel.RAID0, 64, "M2", "M3")).isEqualTo(Errno.EEXIST);
                assertThat(e.createErrno("r2", RaidLevel.RAID0, 64, "M1", "M2")).as("M1 is r's").isEqualTo(Errno.EPERM);
                assertThat(e.info("r2")).as("deleted again").isNull();
                assertThat(e.h.layer.get("M2").claimed()).as("M2 given back").isFalse();
                e.create("r3", RaidLevel.RAID0, 64, "M2", "NoSuch");
                assertThat(e.info("r3").get("state").asText()).isEqualTo("configuring");
                assertThat(e.info("r3").get("num_base_bdevs_discovered").asInt()).isEqualTo(1);
                assertThat(e.h.layer.get("r3")).isNull();
                assertThat(e.h.layer.get("M2").claimed()).isTrue();
            }
        }

        @Test
        @DisplayName("test_delete_raid_invalid_args: an unknown name fails and the raid survives")
        void testDeleteRaidInvalidArgs() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.RAID0, 64, "M0", "M1");
                assertThat(e.h.await(e.raid.delete(e.h.layer, "nope"))).isEqualTo(Errno.ENODEV);
                assertThat(e.info("r")).isNotNull();
                assertThat(e.h.layer.get("r")).isNotNull();
            }
        }

        @Test
        @DisplayName("test_io_channel: a raid channel holds a channel of each base on its reactor; released with it")
        void testIoChannel() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.RAID0, 4, "M0", "M1");
                List<String> chans = e.h.on(1, () -> {
                    BdevDescriptor d = e.h.layer.open("r", false, (ev, b, x) -> { });
                    IoChannel<BdevChannel> ch = d.getIoChannel();
                    List<String> names = e.h.group.reactor(1).channels().stream().map(c -> c.ioDevice()).toList();
                    ch.put();
                    d.close();
                    return names;
                });
                assertThat(chans).contains("r", "raid_r", "M0", "M1");
                e.h.poll();
                assertThat(e.h.on(1, () -> e.h.group.reactor(1).channels().stream().map(c -> c.ioDevice()).toList())).doesNotContain("raid_r", "M0");
            }
        }

        @Test
        @DisplayName("test_reset_io: a RESET of the raid is sent to every base and succeeds")
        void testResetIo() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 256, 512);
                e.create("r", RaidLevel.CONCAT, 4, "M0", "M1", "M2");
                assertThat(e.io.io(0, "r", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
                e.create("m", RaidLevel.RAID1, 0, "M0x", "M1x"); // configuring: unaffected
                assertThat(e.io.io(1, "r", IoType.RESET, 0, 0, null)).isEqualTo(IoStatus.SUCCESS);
            }
        }

        @Test
        @DisplayName("test_multi_raid: several raids; bdev_raid_get_bdevs counts per category")
        void testMultiRaid() {
            try (Env e = new Env()) {
                e.mallocs("M", 6, 256, 512);
                e.create("a", RaidLevel.RAID0, 4, "M0", "M1");
                e.create("b", RaidLevel.RAID1, 0, "M2", "M3");
                e.create("c", RaidLevel.CONCAT, 4, "M4", "Missing");
                assertThat(e.raid.getBdevs(RaidModule.Category.ALL)).hasSize(3);
                assertThat(e.raid.getBdevs(RaidModule.Category.ONLINE)).hasSize(2);
                assertThat(e.raid.getBdevs(RaidModule.Category.CONFIGURING)).hasSize(1);
                assertThat(e.raid.getBdevs(RaidModule.Category.OFFLINE)).isEmpty();
                e.h.await(e.h.malloc.delete(e.h.layer, "M1")); // raid0 loses a base: offline
                e.h.poll();
                assertThat(e.raid.getBdevs(RaidModule.Category.OFFLINE)).hasSize(1);
                assertThat(e.raid.getBdevs(RaidModule.Category.ONLINE)).hasSize(1);
            }
        }

        @Test
        @DisplayName("test_io_type_supported: read and write yes; unmap and flush when every base has them; compare_and_write emulated; abort no")
        void testIoTypeSupported() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                Bdev r = e.h.layer.get("r");
                assertThat(r.nativeIoTypes()).contains(IoType.READ, IoType.WRITE, IoType.RESET, IoType.UNMAP, IoType.FLUSH);
                assertThat(r.supports(IoType.ABORT)).isFalse();
            }
        }

        @Test
        @DisplayName("test_raid_level_conversions: '0', 'raid0', 'RAID0' are raid0; '1', 'raid1' raid1; 'concat'; unknown strings none")
        void testRaidLevelConversions() {
            assertThat(RaidLevel.parse("0")).isEqualTo(RaidLevel.RAID0);
            assertThat(RaidLevel.parse("raid0")).isEqualTo(RaidLevel.RAID0);
            assertThat(RaidLevel.parse("RAID0")).isEqualTo(RaidLevel.RAID0);
            assertThat(RaidLevel.parse("1")).isEqualTo(RaidLevel.RAID1);
            assertThat(RaidLevel.parse("Raid1")).isEqualTo(RaidLevel.RAID1);
            assertThat(RaidLevel.parse("CONCAT")).isEqualTo(RaidLevel.CONCAT);
            assertThat(RaidLevel.parse("raid5f")).isNull();
            assertThat(RaidLevel.parse("abcd123")).isNull();
            assertThat(RaidLevel.parse("")).isNull();
            assertThat(RaidLevel.RAID1.rpcName()).isEqualTo("raid1");
        }

        @Test
        @DisplayName("test_raid_json_dump_info: bdev_get_bdevs' driver_specific.raid holds the raid's info, as bdev_raid_get_bdevs does")
        void testRaidJsonDumpInfo() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.CONCAT, 8, "M0", "M1");
                var json = e.h.layer.get("r").toJson(new com.fasterxml.jackson.databind.ObjectMapper());
                var ds = json.at("/driver_specific/raid");
                ObjectNode info = e.info("r");
                for (String k : new String[] {"strip_size_kb", "state", "raid_level", "superblock", "num_base_bdevs", "num_base_bdevs_discovered",
                    "num_base_bdevs_operational", "base_bdevs_list"}) {
                    assertThat(ds.get(k)).as(k).isEqualTo(info.get(k));
                }
            }
        }

        @Test
        @DisplayName("test_raid_process_with_qos: with process_max_bandwidth_mb_sec=1 each window waits for its share of time before the next;"
                + " the rebuild completes once enough time passed")
        void testRaidProcessWithQos() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 1024, 512); // 512 KiB: 8 windows of 64 KiB
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                e.raid.setOptions(64, 1);
                e.h.await(e.raid.removeBaseBdev(e.h.layer, "M1"));
                e.h.await(e.raid.addBaseBdev(e.h.layer, "r", "M2"));
                e.h.poll();
                assertThat(e.info("r").at("/process/progress/blocks").asLong()).as("one window, then it waits").isEqualTo(128);
                e.h.group.advanceTime(java.time.Duration.ofMillis(30)); // less than a 64 KiB window's 62.5 ms at 1 MiB/s
                e.h.poll();
                assertThat(e.info("r").at("/process/progress/blocks").asLong()).isEqualTo(128);
                e.h.group.advanceTime(java.time.Duration.ofMillis(40));
                e.h.poll();
                assertThat(e.info("r").at("/process/progress/blocks").asLong()).isEqualTo(256);
                assertThat(e.info("r").at("/process/progress/percent").asInt()).isEqualTo(25);
                for (int i = 0; i < 10 && e.info("r").has("process"); i++) {
                    e.h.group.advanceTime(java.time.Duration.ofMillis(70));
                    e.h.poll();
                }
                assertThat(e.info("r").has("process")).isFalse();
                assertThat(e.info("r").get("num_base_bdevs_operational").asInt()).isEqualTo(2);
            }
        }

        @Test
        @DisplayName("test_raid_process: a base added to a degraded raid1 is rebuilt over every block, then the process is cleared and the"
                + " base is operational")
        void testRaidProcess() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 4096, 512); // 2 MiB: two windows of 1 MiB
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                byte[] a = IoKit.pattern(4096 * 512, 9);
                assertThat(e.io.write("r", 0, a)).isEqualTo(IoStatus.SUCCESS);
                assertThat(e.h.await(e.raid.removeBaseBdev(e.h.layer, "M1"))).isZero();
                e.h.poll();
                assertThat(e.info("r").get("num_base_bdevs_operational").asInt()).isEqualTo(1);
                assertThat(e.info("r").at("/base_bdevs_list/1/name").isNull()).isTrue();
                assertThat(e.h.layer.get("M1").claimed()).isFalse();
                assertThat(e.h.await(e.raid.addBaseBdev(e.h.layer, "r", "M2"))).isZero();
                e.h.group.pollUntil(() -> e.info("r").get("process") == null, java.time.Duration.ofSeconds(20));
                assertThat(e.info("r").get("num_base_bdevs_operational").asInt()).isEqualTo(2);
                assertThat(e.info("r").at("/base_bdevs_list/1/name").asText()).isEqualTo("M2");
                assertThat(e.io.read("M2", 0, 4096)).isEqualTo(a);
            }
        }
    }

    // ------------------------------------------------------------------ raid0_ut.c

    @Nested
    class Raid0Ut {
        @Test
        @DisplayName("test_write_io / test_read_io: each block lands on base (strip % n) at ((strip / n) * strip_size + offset in strip),"
                + " for 2 and 4 bases (the shift-and-mask map) and 3 (the division map)")
        void testWriteIoAndReadIo() {
            try (Env e = new Env()) {
                for (int n : new int[] {2, 3, 4}) {
                    String p = "M" + n + "_";
                    e.mallocs(p, n, 64, 512);
                    String[] bases = new String[n];
                    for (int i = 0; i < n; i++) {
                        bases[i] = p + i;
                    }
                    String r = "r" + n;
                    e.create(r, RaidLevel.RAID0, 2, bases); // strip 4 blocks
                    assertThat(e.h.layer.get(r).numBlocks()).isEqualTo(n * 64L);
                    byte[] all = IoKit.pattern(n * 64 * 512, 17 + n);
                    assertThat(e.io.write(r, 0, all)).isEqualTo(IoStatus.SUCCESS); // split at every strip by the layer
                    byte[][] base = new byte[n][];
                    for (int i = 0; i < n; i++) {
                        base[i] = e.io.read(bases[i], 0, 64);
                    }
                    for (long lba = 0; lba < n * 64L; lba++) {
                        long strip = lba / 4;
                        int disk = (int) (strip % n);
                        long pd = (strip / n) * 4 + lba % 4;
                        assertThat(Arrays.copyOfRange(base[disk], (int) pd * 512, (int) pd * 512 + 512))
                                .as("n %d: lba %d -> disk %d block %d", n, lba, disk, pd)
                                .isEqualTo(Arrays.copyOfRange(all, (int) lba * 512, (int) lba * 512 + 512));
                    }
                    assertThat(e.io.read(r, 5, 13)).isEqualTo(Arrays.copyOfRange(all, 5 * 512, 18 * 512));
                    for (long lba = 0; lba < n * 64L; lba += 7) { // single blocks: one base I/O each, no split
                        assertThat(e.io.read(r, lba, 1)).as("n %d: read of lba %d", n, lba)
                                .isEqualTo(Arrays.copyOfRange(all, (int) lba * 512, (int) lba * 512 + 512));
                    }
                }
            }
        }

        @Test
        @DisplayName("test_unmap_io: an unmap over several strips zeroes exactly the ranges SPDK's raid0 range split computes, on each disk")
        void testUnmapIo() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 64, 512);
                e.create("r", RaidLevel.RAID0, 2, "M0", "M1", "M2");
                byte[] ones = new byte[3 * 64 * 512];
                Arrays.fill(ones, (byte) 1);
                e.io.write("r", 0, ones);
                assertThat(e.io.io(0, "r", IoType.UNMAP, 6, 23, null)).isEqualTo(IoStatus.SUCCESS);
                byte[] back = e.io.read("r", 0, 3 * 64);
                for (int lba = 0; lba < 3 * 64; lba++) {
                    byte want = lba >= 6 && lba < 29 ? 0 : (byte) 1;
                    assertThat(back[lba * 512]).as("lba %d", lba).isEqualTo(want);
                }
                assertThat(e.io.io(1, "r", IoType.FLUSH, 0, 3 * 64, null)).isEqualTo(IoStatus.SUCCESS);
            }
        }

        @Test
        @DisplayName("test_io_failure: a failed base I/O fails the raid0 I/O; the raid stays online")
        void testIoFailure() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 64, 512);
                e.h.await(e.error.create(e.h.layer, "M1", null));
                e.create("r", RaidLevel.RAID0, 2, "M0", "EE_M1");
                e.h.await(e.error.injectError(e.h.layer, "EE_M1", new ErrorModule.Injection(null, ErrorModule.ErrorType.FAILURE, 1, 0, 0, 0)));
                assertThat(e.io.write("r", 4, new byte[512])).as("strip 1 is on EE_M1").isEqualTo(IoStatus.FAILED);
                assertThat(e.io.write("r", 0, new byte[512])).isEqualTo(IoStatus.SUCCESS);
                assertThat(e.info("r").get("state").asText()).isEqualTo("online");
            }
        }
    }

    // ------------------------------------------------------------------ raid1_ut.c

    @Nested
    class Raid1Ut {
        @Test
        @DisplayName("test_raid1_start: the size is the smallest base's")
        void testRaid1Start() {
            try (Env e = new Env()) {
                e.h.await(e.h.malloc.create(e.h.layer, MallocModule.Options.of("A", 100, 512)));
                e.h.await(e.h.malloc.create(e.h.layer, MallocModule.Options.of("B", 80, 512)));
                e.create("r", RaidLevel.RAID1, 0, "A", "B");
                assertThat(e.h.layer.get("r").numBlocks()).isEqualTo(80);
                assertThat(e.h.layer.get("r").optimalIoBoundary()).isZero();
            }
        }

        @Test
        @DisplayName("test_raid1_read_balancing: equal reads alternate between the bases; a large read steers small ones to the other base"
                + " until the outstanding blocks are even")
        void testRaid1ReadBalancing() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 256, 512);
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                List<IoStatus> done = new CopyOnWriteArrayList<>();
                IoCallback cb = (io, st, arg) -> done.add(st);
                try (DmaBuffer big = DmaBuffer.allocate(64 * 512); DmaBuffer small = DmaBuffer.allocate(512)) {
                    Object[] held = e.h.on(0, () -> {
                        BdevDescriptor d = e.h.layer.open("r", false, (ev, b, x) -> { });
                        IoChannel<BdevChannel> ch = d.getIoChannel();
                        return new Object[] {d, ch};
                    });
                    BdevDescriptor d = (BdevDescriptor) held[0];
                    @SuppressWarnings("unchecked")
                    IoChannel<BdevChannel> ch = (IoChannel<BdevChannel>) held[1];
                    e.h.on(0, () -> {
                        for (int i = 0; i < 4; i++) {
                            d.readBlocks(ch, small, 0, i, 1, cb, null); // M0, M1, M0, M1: all outstanding at once
                        }
                        return null;
                    });
                    e.h.poll();
                    assertThat(e.reads("M0")).isEqualTo(2);
                    assertThat(e.reads("M1")).isEqualTo(2);
                    e.h.on(0, () -> {
                        d.readBlocks(ch, big, 0, 0, 64, cb, null); // to M0 (tie: lowest index): 64 blocks outstanding there
                        for (int i = 0; i < 10; i++) {
                            d.readBlocks(ch, small, 0, i, 1, cb, null); // all to M1 (10 < 64)
                        }
                        return null;
                    });
                    e.h.poll();
                    assertThat(e.reads("M0")).isEqualTo(3);
                    assertThat(e.reads("M1")).isEqualTo(12);
                    e.h.on(0, () -> {
                        ch.put();
                        d.close();
                        return null;
                    });
                }
                assertThat(done).hasSize(15).containsOnly(IoStatus.SUCCESS);
            }
        }

        @Test
        @DisplayName("test_raid1_write_error: a write succeeds if any base does, and exactly the failing bases are failed out; all failing is FAILED")
        void testRaid1WriteError() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 64, 512);
                for (int i = 0; i < 3; i++) {
                    e.h.await(e.error.create(e.h.layer, "M" + i, null));
                }
                e.create("r", RaidLevel.RAID1, 0, "EE_M0", "EE_M1", "EE_M2");
                e.h.await(e.error.injectError(e.h.layer, "EE_M1", new ErrorModule.Injection(IoType.WRITE, ErrorModule.ErrorType.FAILURE, 1, 0, 0, 0)));
                assertThat(e.io.write("r", 1, IoKit.pattern(512, 1))).isEqualTo(IoStatus.SUCCESS);
                e.h.poll();
                ObjectNode i = e.info("r");
                assertThat(i.get("num_base_bdevs_operational").asInt()).isEqualTo(2);
                assertThat(i.at("/base_bdevs_list/1/name").isNull()).as("EE_M1 failed").isTrue();
                assertThat(i.at("/base_bdevs_list/0/name").asText()).isEqualTo("EE_M0");
                assertThat(i.get("state").asText()).isEqualTo("online");
                for (String b : new String[] {"EE_M0", "EE_M2"}) {
                    e.h.await(e.error.injectError(e.h.layer, b, new ErrorModule.Injection(IoType.WRITE, ErrorModule.ErrorType.FAILURE, 1, 0, 0, 0)));
                }
                assertThat(e.io.write("r", 1, IoKit.pattern(512, 2))).isEqualTo(IoStatus.FAILED);
            }
        }

        @Test
        @DisplayName("test_raid1_read_error: a failed read is retried on another base and the data written back (SUCCESS); if that write fails"
                + " the base is failed (still SUCCESS); when only the last base succeeds, SUCCESS; when all fail, FAILED")
        void testRaid1ReadError() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 64, 512);
                for (int i = 0; i < 3; i++) {
                    e.h.await(e.error.create(e.h.layer, "M" + i, null));
                }
                e.create("r", RaidLevel.RAID1, 0, "EE_M0", "EE_M1", "EE_M2");
                byte[] a = IoKit.pattern(512, 3);
                assertThat(e.io.write("r", 2, a)).isEqualTo(IoStatus.SUCCESS);
                // fail the next read on EE_M0 (the base the first read goes to): the retry on EE_M1 succeeds and its data is
                // written back to EE_M0 (one more write reaches M0)
                long writesBefore = e.h.await(e.h.layer.stats("M0")).numWriteOps();
                ErrorModule.Injection readFail = new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.FAILURE, 1, 0, 0, 0);
                e.h.await(e.error.injectError(e.h.layer, "EE_M0", readFail));
                assertThat(e.io.read("r", 2, 1)).isEqualTo(a);
                assertThat(e.h.await(e.h.layer.stats("M0")).numWriteOps()).as("rewritten").isEqualTo(writesBefore + 1);
                assertThat(e.io.read("M0", 2, 1)).isEqualTo(a);
                assertThat(e.info("r").get("num_base_bdevs_operational").asInt()).isEqualTo(3);

                // the rewrite fails too: the read succeeds, EE_M0 is failed out
                e.h.await(e.error.injectError(e.h.layer, "EE_M0", new ErrorModule.Injection(null, ErrorModule.ErrorType.FAILURE, 2, 0, 0, 0)));
                assertThat(e.io.read("r", 2, 1)).isEqualTo(a);
                e.h.poll();
                assertThat(e.info("r").get("num_base_bdevs_operational").asInt()).isEqualTo(2);
                assertThat(e.info("r").at("/base_bdevs_list/0/name").isNull()).isTrue();

                // the first remaining base fails the read, only the last one succeeds
                e.h.await(e.error.injectError(e.h.layer, "EE_M1", readFail));
                assertThat(e.io.read("r", 2, 1)).isEqualTo(a);
                // every base fails: FAILED
                e.h.await(e.error.injectError(e.h.layer, "EE_M1", new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.FAILURE, 5, 0, 0, 0)));
                e.h.await(e.error.injectError(e.h.layer, "EE_M2", new ErrorModule.Injection(IoType.READ, ErrorModule.ErrorType.FAILURE, 5, 0, 0, 0)));
                try (DmaBuffer b = DmaBuffer.allocate(512)) {
                    assertThat(e.io.io(0, "r", IoType.READ, 2, 1, b)).isEqualTo(IoStatus.FAILED);
                }
            }
        }

        @Test
        @DisplayName("hot-remove of a raid1 base: degraded, still ONLINE, I/O keeps working; the last base's removal takes it offline")
        void hotRemoveDegrades() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 64, 512);
                e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
                byte[] a = IoKit.pattern(1024, 4);
                e.io.write("r", 10, a);
                assertThat(e.h.await(e.h.malloc.delete(e.h.layer, "M0"))).isZero();
                e.h.poll();
                assertThat(e.info("r").get("state").asText()).isEqualTo("online");
                assertThat(e.info("r").get("num_base_bdevs_discovered").asInt()).isEqualTo(1);
                assertThat(e.io.read("r", 10, 2)).isEqualTo(a);
                assertThat(e.io.write("r", 0, a)).isEqualTo(IoStatus.SUCCESS);
                assertThat(e.h.await(e.h.malloc.delete(e.h.layer, "M1"))).isZero();
                e.h.poll();
                assertThat(e.h.layer.get("r")).isNull();
                assertThat(e.info("r")).as("no base left: forgotten").isNull();
            }
        }
    }

    // ------------------------------------------------------------------ concat_ut.c

    @Nested
    class ConcatUt {
        @Test
        @DisplayName("test_concat_start: each base contributes its size rounded down to a strip multiple, one after the other")
        void testConcatStart() {
            try (Env e = new Env()) {
                e.h.await(e.h.malloc.create(e.h.layer, MallocModule.Options.of("A", 100, 512)));
                e.h.await(e.h.malloc.create(e.h.layer, MallocModule.Options.of("B", 70, 512)));
                e.create("r", RaidLevel.CONCAT, 8, "A", "B"); // strip 16 blocks
                assertThat(e.h.layer.get("r").numBlocks()).isEqualTo(96 + 64);
                RaidBdev r = e.raid.find("r");
                assertThat(r.concatStart).containsExactly(0, 96);
                assertThat(r.concatEnd).containsExactly(96, 160);
            }
        }

        @Test
        @DisplayName("test_concat_rw: a block of the raid is block (lba - base start) of the base holding it")
        void testConcatRw() {
            try (Env e = new Env()) {
                e.mallocs("M", 2, 64, 512);
                e.create("r", RaidLevel.CONCAT, 4, "M0", "M1");
                byte[] all = IoKit.pattern(128 * 512, 8);
                assertThat(e.io.write("r", 0, all)).isEqualTo(IoStatus.SUCCESS);
                assertThat(e.io.read("M0", 0, 64)).isEqualTo(Arrays.copyOf(all, 64 * 512));
                assertThat(e.io.read("M1", 0, 64)).isEqualTo(Arrays.copyOfRange(all, 64 * 512, 128 * 512));
                assertThat(e.io.read("r", 60, 8)).isEqualTo(Arrays.copyOfRange(all, 60 * 512, 68 * 512));
            }
        }

        @Test
        @DisplayName("test_concat_null_payload: an unmap or flush across bases reaches each base with its part of the range")
        void testConcatNullPayload() {
            try (Env e = new Env()) {
                e.mallocs("M", 3, 64, 512);
                e.create("r", RaidLevel.CONCAT, 4, "M0", "M1", "M2");
                byte[] ones = new byte[192 * 512];
                Arrays.fill(ones, (byte) 7);
                e.io.write("r", 0, ones);
                assertThat(e.io.io(0, "r", IoType.UNMAP, 60, 72, null)).isEqualTo(IoStatus.SUCCESS);
                byte[] m0 = e.io.read("M0", 0, 64);
                byte[] m1 = e.io.read("M1", 0, 64);
                byte[] m2 = e.io.read("M2", 0, 64);
                assertThat(m0[59 * 512]).isEqualTo((byte) 7);
                assertThat(m0[60 * 512]).isZero();
                assertThat(m1[0]).isZero();
                assertThat(m1[63 * 512]).isZero();
                assertThat(m2[3 * 512]).isZero();
                assertThat(m2[4 * 512]).isEqualTo((byte) 7);
                assertThat(e.io.io(1, "r", IoType.FLUSH, 0, 192, null)).isEqualTo(IoStatus.SUCCESS);
            }
        }
    }

    // ------------------------------------------------------------------ lifecycle

    @Test
    @DisplayName("configuring by examine: a raid over missing bases goes online when the last one registers; raid0 loses a base:"
            + " offline and unregistered, the rest stay claimed until delete")
    void examineAndOffline() {
        try (Env e = new Env()) {
            e.create("r", RaidLevel.RAID0, 4, "L0", "L1");
            assertThat(e.info("r").get("state").asText()).isEqualTo("configuring");
            e.mallocs("L", 2, 64, 512);
            e.h.poll();
            assertThat(e.info("r").get("state").asText()).isEqualTo("online");
            assertThat(e.h.layer.get("r")).isNotNull();
            List<String> events = new ArrayList<>();
            var d = e.h.on(1, () -> e.h.layer.open("r", false, (ev, b, desc) -> {
                events.add(ev.name());
                desc.close();
            }));
            assertThat(e.h.await(e.h.malloc.delete(e.h.layer, "L1"))).isZero();
            e.h.poll();
            assertThat(events).containsExactly("REMOVE");
            assertThat(d.isClosed()).isTrue();
            assertThat(e.h.layer.get("r")).isNull();
            assertThat(e.info("r").get("state").asText()).isEqualTo("offline");
            assertThat(e.h.layer.get("L0").claimed()).isTrue();
            assertThat(e.h.await(e.raid.delete(e.h.layer, "r"))).isZero();
            assertThat(e.h.layer.get("L0").claimed()).isFalse();
            assertThat(e.info("r")).isNull();
        }
    }

    @Test
    @DisplayName("add_base_bdev: ENODEV for an unknown raid, EINVAL without an empty slot; remove_base_bdev: ENODEV for a non-member")
    void addAndRemoveErrors() {
        try (Env e = new Env()) {
            e.mallocs("M", 3, 64, 512);
            e.create("r", RaidLevel.RAID1, 0, "M0", "M1");
            assertThatThrownBy(() -> e.h.await(e.raid.addBaseBdev(e.h.layer, "nope", "M2")))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.ENODEV));
            assertThatThrownBy(() -> e.h.await(e.raid.addBaseBdev(e.h.layer, "r", "M2")))
                    .satisfies(t -> assertThat(Vbdevs.errnoOf(t, 0)).isEqualTo(Errno.EINVAL));
            assertThat(e.h.await(e.raid.removeBaseBdev(e.h.layer, "M2"))).isEqualTo(Errno.ENODEV);
            assertThat(e.h.await(e.raid.removeBaseBdev(e.h.layer, "nope"))).isEqualTo(Errno.ENODEV);
            assertThat(e.raid.find("r").createCall().toString())
                    .isEqualTo("{\"method\":\"bdev_raid_create\",\"params\":{\"name\":\"r\",\"uuid\":\"" + e.raid.find("r").uuid
                            + "\",\"raid_level\":\"raid1\",\"base_bdevs\":[\"M0\",\"M1\"]}}");
            e.h.await(e.raid.removeBaseBdev(e.h.layer, "M1"));
            e.h.poll();
            assertThat(e.raid.find("r").createCall().at("/params/base_bdevs/1").asText()).isEqualTo("removed_base_bdev_1");
            UUID u = e.raid.find("r").uuid;
            assertThat(e.h.layer.get("r").uuid()).isEqualTo(u);
        }
    }

    // ------------------------------------------------------------------ shutdown (SPDK's raid fini_start)

    @Nested
    class Shutdown {
        @Test
        @DisplayName("a raid still configuring at shutdown releases its bases first, so the layer unregisters them unclaimed")
        void configuringRaidReleasesItsBasesBeforeTheBdevsAreUnregistered() {
            ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("io.spindle.bdev.BdevRegistry");
            ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
            lines.start();
            log.addAppender(lines);
            try {
                Env e = new Env();
                e.mallocs("M", 1, 128, 512);
                e.create("r", RaidLevel.RAID1, 0, "M0", "Missing1"); // one base present: configuring, M0 claimed
                assertThat(e.info("r").get("state").asText()).isEqualTo("configuring");
                assertThat(e.h.layer.get("M0").claimed()).isTrue();
                e.close(); // the layer's fini: every module's fini_start, then the bdevs top-down
                assertThat(e.h.layer.bdevs()).isEmpty();
                assertThat(e.raid.getBdevs(RaidModule.Category.ALL)).isEmpty();
                assertThat(lines.list).extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                        .noneMatch(m -> m.startsWith("bdev fini: only claimed bdevs remain"));
            } finally {
                log.detachAppender(lines);
            }
        }
    }
}
