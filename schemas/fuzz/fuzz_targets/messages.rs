#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meridian_proto::fuzz_targets::messages(data);
});
