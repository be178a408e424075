//! The graph view of a model: its network with the plan on every node
//! ([`fhez_graphview`]), with the header filled from the planned CKKS parameters.

use fhez_ckks::{CkksParams, SecurityLevel};
use fhez_graphview::{Format, GraphView, Header, Limits};

use crate::{EncryptedModel, ModelFile, Result};

/// The security line of the header.
fn security_text(level: SecurityLevel) -> String {
    if level == SecurityLevel::Tc128 {
        "128-bit (HomomorphicEncryption.org table)".to_owned()
    } else if level == SecurityLevel::InsecureForTesting {
        "INSECURE (testing only)".to_owned()
    } else {
        format!("{level:?}")
    }
}

/// The view of a planned model titled `title`, with the default [`Limits`].
///
/// # Errors
/// Parameter errors when the plan's parameters cannot be built.
pub fn graph_view_of(model: &EncryptedModel, title: &str) -> Result<GraphView> {
    graph_view_with(model, title, Limits::default())
}

/// As [`graph_view_of`] with explicit limits.
///
/// # Errors
/// As [`graph_view_of`].
pub fn graph_view_with(model: &EncryptedModel, title: &str, limits: Limits) -> Result<GraphView> {
    let params = CkksParams::new(&model.spec())?;
    let header = Header::from_plan(
        title,
        model.plan(),
        &security_text(params.security()),
        model.batch(),
    );
    Ok(GraphView::with_limits(
        model.graph(),
        model.plan(),
        header,
        limits,
    ))
}

/// Plans a model file and renders its graph view in `format` (DOT, SVG or self-contained
/// HTML), titled with the model's name.
///
/// # Errors
/// Graph and planning errors; [`fhez_graphview::Error::TooLarge`] (wrapped) when the
/// document exceeds the default 16 MiB cap.
pub fn graph_view(file: &ModelFile, format: Format) -> Result<String> {
    let model = file.encrypted_model()?;
    Ok(graph_view_of(&model, &file.name)?.render(format)?)
}
