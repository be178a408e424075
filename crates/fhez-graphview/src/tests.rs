use fhez_nn::nodes::{Decrypt, Enqueue, Input, Io, Linear};
use fhez_nn::{Graph, GraphBuilder, Plan, Tensor, plan, prefab};

use crate::escape::{dot_string, json_for_script, xml_text};
use crate::{Error, Format, GraphView, Header, Limits};

fn linear() -> Linear {
    Linear {
        m: Tensor::scalar(0.7),
        c: Tensor::scalar(0.1),
    }
}

fn header(p: &Plan, title: &str) -> Header {
    Header::from_plan(title, p, "Bits128", 4)
}

/// x → a → b (two levels) and x → c (free) meet in an enqueue, then decrypt.
fn branches(a_name: &str) -> Graph {
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[4])).unwrap();
    let a = g.add(a_name, linear()).unwrap();
    let b = g.add("b", linear()).unwrap();
    let c = g.add("c", Io {}).unwrap();
    let q = g.add("q", Enqueue { length: 2 }).unwrap();
    let d = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[x, a, b]).unwrap();
    g.connect_ports(b, 0, q, 0).unwrap();
    g.chain(&[x, c]).unwrap();
    g.connect_ports(c, 0, q, 1).unwrap();
    g.chain(&[q, d]).unwrap();
    g.build().unwrap()
}

fn view(g: &Graph, title: &str, limits: Limits) -> GraphView {
    let p = plan(g, 4, 20).unwrap();
    GraphView::with_limits(g, &p, header(&p, title), limits)
}

#[test]
fn escaping_neutralises_markup_and_dot_escapes() {
    assert_eq!(
        xml_text("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
    assert_eq!(xml_text("a\u{0}b\u{1b}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
    assert_eq!(dot_string("a\"b\\N\nc"), "\"a\\\"b\\\\N\\nc\"");
    assert_eq!(dot_string("x\u{7}"), "\"x\u{FFFD}\"");
    let j = json_for_script(r#"{"n":"</script><!--&"}"#);
    assert!(!j.contains('<') && !j.contains('>') && !j.contains('&'));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&j).unwrap()["n"],
        "</script><!--&"
    );
}

#[test]
fn hostile_names_stay_text_in_every_format() {
    let evil = "</script><script>alert(1)</script><svg onload=x>\"\\N\n&amp;";
    let g = branches(evil);
    let v = view(&g, "<b>title</b>", Limits::default());
    let html = v.render(Format::Html).unwrap();
    assert!(!html.contains("<script>alert"), "raw script in HTML");
    assert!(!html.contains("<svg onload"), "raw markup in HTML");
    assert!(!html.contains("<b>title"), "raw title in HTML");
    // Our two scripts (data + code) and nothing else.
    assert_eq!(html.matches("<script").count(), 2);
    assert_eq!(html.matches("</script>").count(), 2);
    let svg = v.render(Format::Svg).unwrap();
    assert!(!svg.contains("<script") && !svg.contains("<svg onload"));
    let dot = v.render(Format::Dot).unwrap();
    // No unescaped quote can end a DOT string early: every quote inside the name is
    // preceded by a backslash that is itself not escaped.
    assert!(dot.contains("\\\"\\\\N\\n&amp;"), "{dot}");
}

#[test]
fn layout_is_deterministic_and_boxes_do_not_overlap() {
    let g = prefab::cnn_classifier(10, 1).unwrap();
    let a = view(&g, "m", Limits::default());
    let b = view(&g.clone(), "m", Limits::default());
    for f in [Format::Dot, Format::Svg, Format::Html] {
        assert_eq!(a.render(f).unwrap(), b.render(f).unwrap(), "{f}");
    }
    let s = a.scene();
    assert_eq!(s.boxes.len(), g.len());
    assert_eq!(s.links.len(), g.edges().len());
    for (i, p) in s.boxes.iter().enumerate() {
        for q in s.boxes.iter().skip(i + 1) {
            let apart = (p.x - q.x).abs() >= crate::layout::BOX_W
                || (p.y - q.y).abs() >= crate::layout::BOX_H;
            assert!(apart, "{} overlaps {}", p.title, q.title);
        }
    }
    // Every edge goes left to right in the detailed view (longest-path layers).
    for l in &s.links {
        assert!(s.boxes[l.from].column < s.boxes[l.to].column);
    }
}

#[test]
fn critical_path_follows_the_deepest_branch() {
    let g = branches("a");
    let v = view(&g, "m", Limits::default());
    let s = v.scene();
    let critical: Vec<&str> = s
        .boxes
        .iter()
        .filter(|b| b.critical)
        .map(|b| b.title.as_str())
        .collect();
    assert_eq!(critical, vec!["x", "a", "b", "q", "Decrypt"]);
    let name = |i: usize| s.boxes[i].title.as_str();
    let links: Vec<(&str, &str)> = s
        .links
        .iter()
        .filter(|l| l.critical)
        .map(|l| (name(l.from), name(l.to)))
        .collect();
    assert_eq!(
        links,
        vec![("x", "a"), ("a", "b"), ("b", "q"), ("q", "Decrypt")]
    );
    // The figures come from the plan: b ends two levels down the 2-level chain.
    let b = s.boxes.iter().find(|b| b.title == "b").unwrap();
    let get = |k: &str| b.details.iter().find(|d| d.key == k).unwrap().value.clone();
    assert_eq!(
        (get("level_in"), get("level_out"), get("depth")),
        ("1".into(), "0".into(), "2".into())
    );
}

#[test]
fn output_over_the_cap_is_a_clear_error() {
    let g = prefab::cnn_classifier(10, 1).unwrap();
    let limits = Limits {
        max_bytes: 4096,
        ..Limits::default()
    };
    let v = view(&g, "m", limits);
    let Err(Error::TooLarge {
        format,
        bytes,
        limit,
    }) = v.render(Format::Html)
    else {
        unreachable!("expected TooLarge")
    };
    assert_eq!((format, limit), (Format::Html, 4096));
    assert!(bytes > 4096);
    assert!(
        Error::TooLarge {
            format,
            bytes,
            limit
        }
        .to_string()
        .contains("exceeds 4096 bytes")
    );
    // The same view fits the default cap.
    assert!(
        view(&g, "m", Limits::default())
            .render(Format::Html)
            .is_ok()
    );
}

/// x → `n` free nodes in a chain → decrypt, and `wide` free nodes off x.
fn big(chain: usize, wide: usize) -> Graph {
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[2])).unwrap();
    let mut prev = x;
    for i in 0..chain {
        let n = g.add(&format!("io-{i}"), Io {}).unwrap();
        g.chain(&[prev, n]).unwrap();
        prev = n;
    }
    let d = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[prev, d]).unwrap();
    for i in 0..wide {
        let n = g.add(&format!("side-{i}"), Io {}).unwrap();
        g.chain(&[x, n]).unwrap();
    }
    g.build().unwrap()
}

#[test]
fn large_graphs_collapse_into_a_summary() {
    let g = big(400, 2000);
    let v = view(&g, "big", Limits::default());
    let s = v.scene();
    assert_eq!(s.summary, Some((2402, 2401)));
    let columns: std::collections::BTreeSet<usize> = s.boxes.iter().map(|b| b.column).collect();
    assert!(columns.len() <= crate::DEFAULT_MAX_SUMMARY_COLUMNS);
    assert!(s.boxes.len() <= 3 * crate::DEFAULT_MAX_SUMMARY_COLUMNS);
    // Band 0 holds layers 0–8 (402 layers in bands of 9): x alone (an input), then
    // io-0 … io-7 and the 2000 side nodes (all free nodes on ciphertexts) in one box.
    let titles: Vec<&str> = s.boxes.iter().map(|b| b.title.as_str()).collect();
    assert!(titles.contains(&"1 × input"), "{titles:?}");
    assert!(titles.contains(&"2008 × io"), "{titles:?}");
    assert_eq!(
        s.boxes.iter().filter(|b| b.critical).count(),
        columns.len() + 2,
        "x, the chain's group in every band, the decrypt"
    );
    // Wrapped into blocks of WRAP columns: no wider than one block, and no box overlaps.
    let block = 2.0 * crate::layout::MARGIN
        + crate::layout::WRAP as f64 * (crate::layout::BOX_W + crate::layout::GAP_X);
    assert!(s.width <= block, "{} wide", s.width);
    for (i, p) in s.boxes.iter().enumerate() {
        for q in s.boxes.iter().skip(i + 1) {
            let apart = (p.x - q.x).abs() >= crate::layout::BOX_W
                || (p.y - q.y).abs() >= crate::layout::BOX_H;
            assert!(apart, "{} overlaps {}", p.title, q.title);
        }
    }
    let html = v.render(Format::Html).unwrap();
    assert!(html.contains("summary view: 2402 nodes and 2401 edges"));
    assert!(html.len() < 1 << 20, "{} bytes", html.len());
    // Below the threshold the same kind of graph is drawn node by node.
    let small = view(&big(10, 10), "small", Limits::default());
    assert_eq!(small.scene().summary, None);
    assert_eq!(small.scene().boxes.len(), 22);
}

#[test]
fn formats_parse_and_unknown_ones_are_named() {
    assert_eq!("HTML".parse::<Format>().unwrap(), Format::Html);
    assert_eq!("dot".parse::<Format>().unwrap(), Format::Dot);
    assert_eq!("svg".parse::<Format>().unwrap(), Format::Svg);
    let e = "png".parse::<Format>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown graph view format `png` (expected dot, svg or html)"
    );
}
