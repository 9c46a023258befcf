//! The harness itself against a page of known content (a `data:` URL, no server): JavaScript
//! evaluation, waiting, typing, holding a key, and a screenshot whose pixels are counted exactly.

use std::time::Duration;

use meridian_browser::{Driver, PixelRect, VIEWPORT_PX};

const PAGE: &str = "data:text/html,<!doctype html><html><body style='margin:0;background:%23000'>\
<div id='box' style='position:absolute;left:40px;top:30px;width:100px;height:50px;background:%23ff0000'></div>\
<input id='text'><script>window.keys=[];document.addEventListener('keydown',e=>keys.push('down:'+e.key));\
document.addEventListener('keyup',e=>keys.push('up:'+e.key));setTimeout(()=>window.ready=true,300);</script></body></html>";

#[test]
fn the_harness_drives_a_page_and_counts_its_pixels() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("harness");
    std::fs::create_dir_all(&dir).unwrap();
    let driver = Driver::start(&dir.join("chromedriver.log")).expect("chromedriver");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let session = driver.session().await.expect("a browser session");
        session.goto(PAGE).await.unwrap();
        assert_eq!(session.eval("1 + 2").await.unwrap(), 3);
        session.wait_for("window.ready", Duration::from_secs(5)).await.unwrap();
        let timeout = session.wait_for("window.never", Duration::from_millis(300)).await;
        assert!(timeout.is_err(), "a condition that never holds must time out");
        assert_eq!(
            session
                .eval_async("await new Promise(r => setTimeout(r, 50)); return 'later';")
                .await
                .unwrap(),
            "later"
        );
        session.fill("#text", "hello").await.unwrap();
        assert_eq!(
            session.eval("document.getElementById('text').value").await.unwrap(),
            "hello"
        );
        session.hold_key('w', Duration::from_millis(100)).await.unwrap();
        let keys = session.eval("keys.filter(k => k.endsWith(':w'))").await.unwrap();
        assert_eq!(keys.as_array().unwrap().first().unwrap(), "down:w");
        assert_eq!(keys.as_array().unwrap().last().unwrap(), "up:w");
        let shot = session.screenshot(&dir.join("box.png")).await.unwrap();
        assert_eq!(shot.width, VIEWPORT_PX.0);
        let red = [255, 0, 0];
        assert_eq!(shot.count(shot.bounds(), red, 0), 100 * 50);
        let box_rect = PixelRect {
            x0: 40,
            y0: 30,
            x1: 140,
            y1: 80,
        };
        assert_eq!(shot.count(box_rect, red, 0), 100 * 50);
        assert_eq!(shot.blobs(shot.bounds(), red, 0), 1);
        session.close().await.unwrap();
    });
}
