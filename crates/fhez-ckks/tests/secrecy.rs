//! What must not leak: the server type cannot decrypt (checked by the type system), and a
//! decrypted plaintext does not print its coefficients.
#![allow(clippy::unwrap_used, reason = "test code")]

use fhez_backend::Decrypt;
use fhez_ckks::{CkksClient, CkksParams, CkksServer, Encoder, Preset, SecretKey};

/// `Probe<M>` holds for every type with `M = NotDecrypt`, and for every type implementing
/// [`Decrypt`] with `M = IsDecrypt`. Naming `<T as Probe<_>>::probe` makes the compiler infer
/// `M`: with one candidate impl it compiles, with two (when `T: Decrypt`) inference is
/// ambiguous and compilation fails (E0283). Unlike a `compile_fail` doctest, no unrelated
/// error can satisfy it: the file compiles exactly when `T` does not implement `Decrypt`.
trait Probe<M> {
    fn probe() {}
}
struct NotDecrypt;
struct IsDecrypt;
impl<T: ?Sized> Probe<NotDecrypt> for T {}
impl<T: Decrypt> Probe<IsDecrypt> for T {}

/// Compiles only if `CkksServer` does not implement `Decrypt`.
fn server_does_not_implement_decrypt() {
    <CkksServer as Probe<_>>::probe();
}

/// The positive control: the same bound is satisfiable, by the client.
fn requires_decrypt<T: Decrypt>() {}

#[test]
fn server_cannot_decrypt_client_can() {
    server_does_not_implement_decrypt();
    requires_decrypt::<CkksClient>();
}

#[test]
fn plaintext_debug_is_redacted() {
    let params = CkksParams::new(&Preset::TinyInsecure.spec()).unwrap();
    let mut rng = fhez_ckks::os_rng().unwrap();
    let sk = SecretKey::generate(&params, &mut rng).unwrap();
    let pt = Encoder::new(&params)
        .encode(&[0.125, -3.5], params.default_scale(), params.max_level())
        .unwrap();
    let dec = sk.decrypt(&sk.encrypt(&pt, &mut rng).unwrap()).unwrap();
    for shown in [format!("{pt:?}"), format!("{dec:#?}")] {
        assert!(shown.starts_with("Plaintext"), "{shown}");
        // The redacted form names level, scale and id only: no coefficient (any of the
        // N·limbs residues would print as a run of digits far longer than these fields).
        assert!(!shown.contains("poly"), "{shown}");
        assert!(shown.len() < 400, "{} characters: {shown}", shown.len());
    }
}
