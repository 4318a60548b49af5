//! A small JSON reader for the event path: it checks a frame and finds the parts the
//! session and the surfaces read (an object's members, an array's items) as slices of
//! the text, without building anything.
//!
//! serde_json reads whole values; reading only an envelope and a key through it still
//! cost more per event than the raw client's complete parse (callgrind, event flood:
//! 5,000 instructions to find the members of a 230-byte frame with borrowed serde, most
//! of it per-member setup). This reader accepts exactly the text serde_json accepts as
//! a `Value` (the same escapes and surrogate pairs, numbers a `f64` can hold, at most
//! 127 nested arrays and objects): the property tests below check that on generated
//! and mutated JSON, and the fuzz target checks that whatever decodes is JSON.

use std::borrow::Cow;
use std::cell::RefCell;

use bytes::{BufMut, Bytes, BytesMut};

/// Why text is not JSON: where reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid(pub usize);

/// serde_json's limit: a 128th nested array or object is refused.
const MAX_DEPTH: u32 = 127;

type Read<T> = Result<T, Invalid>;

fn ws(s: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = s.get(i) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A string's text between its quotes, and whether it has escapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    /// The text the string stands for (a copy only when it has escapes).
    pub fn text(&self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.raw);
        }
        let quoted = format!("\"{}\"", self.raw);
        // Checked when it was read, so this cannot fail.
        Cow::Owned(serde_json::from_str(&quoted).unwrap_or_default())
    }

    /// The text when it has no escapes (the usual case), without making anything.
    pub fn plain(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// Whether the string stands for `text`.
    pub fn is(&self, text: &str) -> bool {
        if self.escaped {
            self.text() == text
        } else {
            self.raw == text
        }
    }
}

/// The first byte of the eight at `j` that is a quote, a backslash or (when `control`)
/// below 0x20, as an offset; 8 when none is; `None` when fewer than eight bytes are left.
#[inline]
fn special_in_word(s: &[u8], j: usize, control: bool) -> Option<usize> {
    let chunk = s.get(j..j + 8)?;
    let w = u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
    // Each mask's lowest set bit marks a real match (false ones only lie above a real
    // one), so the lowest bit of their union is the first special byte.
    let mut mask = zero_bytes(w ^ (ONES * u64::from(b'"'))) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
    if control {
        mask |= w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    }
    Some(if mask == 0 { 8 } else { (mask.trailing_zeros() / 8) as usize })
}

/// The bytes of `w` that are zero, as their high bits (see [`special_in_word`]).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Reads the string whose opening quote is at `i`: its end (after the closing quote).
#[inline]
fn string(s: &[u8], i: usize) -> Read<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        // Eight bytes at a time to the next special byte.
        while let Some(k) = special_in_word(s, j, true) {
            j += k;
            if k < 8 {
                break;
            }
        }
        match s.get(j) {
            None => return Err(Invalid(j)),
            Some(b'"') => return Ok((j + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                j = escape(s, j + 1)?;
            }
            Some(&b) if b < 0x20 => return Err(Invalid(j)),
            Some(_) => j += 1,
        }
    }
}

fn hex4(s: &[u8], i: usize) -> Read<u16> {
    let digits = s.get(i..i + 4).ok_or(Invalid(i))?;
    let mut n = 0u16;
    for &d in digits {
        let v = (d as char).to_digit(16).ok_or(Invalid(i))?;
        n = n << 4 | v as u16;
    }
    Ok(n)
}

/// Reads the escape after a backslash at `i - 1`; surrogates must pair, as they must
/// in text serde_json turns into a `String`.
fn escape(s: &[u8], i: usize) -> Read<usize> {
    match s.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => {
            let n = hex4(s, i + 1)?;
            match n {
                0xDC00..=0xDFFF => Err(Invalid(i)),
                0xD800..=0xDBFF => {
                    if s.get(i + 5..i + 7) != Some(b"\\u") {
                        return Err(Invalid(i + 5));
                    }
                    match hex4(s, i + 7)? {
                        0xDC00..=0xDFFF => Ok(i + 11),
                        _ => Err(Invalid(i + 7)),
                    }
                }
                _ => Ok(i + 5),
            }
        }
        _ => Err(Invalid(i)),
    }
}

fn digits(s: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = s.get(i) {
        i += 1;
    }
    i
}

/// Reads the number at `i`: its end.
fn number(s: &[u8], i: usize) -> Read<usize> {
    let mut j = i;
    if s.get(j) == Some(&b'-') {
        j += 1;
    }
    let int_start = j;
    match s.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits(s, j),
        _ => return Err(Invalid(j)),
    }
    let int_digits = j - int_start;
    let mut float = false;
    if s.get(j) == Some(&b'.') {
        let k = digits(s, j + 1);
        if k == j + 1 {
            return Err(Invalid(k));
        }
        j = k;
        float = true;
    }
    if let Some(b'e' | b'E') = s.get(j) {
        j += 1;
        if let Some(b'+' | b'-') = s.get(j) {
            j += 1;
        }
        let k = digits(s, j);
        if k == j {
            return Err(Invalid(k));
        }
        j = k;
        float = true;
    }
    // What does not fit a u64 or i64 becomes a f64, which must be finite.
    if float || int_digits > 18 {
        let text = std::str::from_utf8(&s[i..j]).map_err(|_| Invalid(i))?;
        let fits_integer = !float && (text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok());
        if !fits_integer && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(Invalid(i));
        }
    }
    Ok(j)
}

fn literal(s: &[u8], i: usize, word: &[u8]) -> Read<usize> {
    if s.get(i..i + word.len()) == Some(word) {
        Ok(i + word.len())
    } else {
        Err(Invalid(i))
    }
}

// ---- reading text that was checked before: only where things end is looked for

/// The end of the checked string whose opening quote is at `i`, and whether it has
/// escapes.
#[inline]
fn skip_string(s: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        while let Some(k) = special_in_word(s, j, false) {
            j += k;
            if k < 8 {
                break;
            }
        }
        match s.get(j) {
            Some(b'"') | None => return (j + 1, escaped),
            Some(b'\\') => {
                escaped = true;
                j += 2;
            }
            Some(_) => j += 1,
        }
    }
}

/// The end of the checked value at `i`.
fn skip(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(b'"') => skip_string(s, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&b) = s.get(j) {
                match b {
                    b'"' => {
                        j = skip_string(s, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            j
        }
        _ => {
            let mut j = i;
            while let Some(b) = s.get(j) {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\n' | b'\t' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

/// Reads the value at `i` (no whitespace before it): its end.
fn value(s: &[u8], i: usize, depth: u32) -> Read<usize> {
    match s.get(i) {
        Some(b'"') => string(s, i).map(|(end, _)| end),
        Some(b'{') => object(s, i, depth + 1),
        Some(b'[') => array(s, i, depth + 1, None),
        Some(b't') => literal(s, i, b"true"),
        Some(b'f') => literal(s, i, b"false"),
        Some(b'n') => literal(s, i, b"null"),
        Some(b'-' | b'0'..=b'9') => number(s, i),
        _ => Err(Invalid(i)),
    }
}

/// Checks the object at `i`: its end.
fn object(s: &[u8], i: usize, depth: u32) -> Read<usize> {
    object_noting(s, i, depth, None)
}

/// [`object`], noting each member in `tape` (offsets from `base`) when given.
fn object_noting(s: &[u8], i: usize, depth: u32, mut tape: Option<(&mut Words, usize)>) -> Read<usize> {
    if depth > MAX_DEPTH {
        return Err(Invalid(i));
    }
    let mut j = ws(s, i + 1);
    if s.get(j) == Some(&b'}') {
        return Ok(j + 1);
    }
    loop {
        if s.get(j) != Some(&b'"') {
            return Err(Invalid(j));
        }
        let name = j;
        let (name_end, escaped) = string(s, j)?;
        j = ws(s, name_end);
        if s.get(j) != Some(&b':') {
            return Err(Invalid(j));
        }
        let start = ws(s, j + 1);
        let end = value(s, start, depth)?;
        if let Some((tape, base)) = tape.as_mut() {
            let at = |k: usize| (k - *base) as u32;
            tape.push([at(name + 1), at(name_end - 1) | if escaped { ESCAPED } else { 0 }, at(start), at(end)]);
        }
        j = ws(s, end);
        match s.get(j) {
            Some(b',') => j = ws(s, j + 1),
            Some(b'}') => return Ok(j + 1),
            _ => return Err(Invalid(j)),
        }
    }
}

/// Checks the array at `i`: its end; with `tape`, notes its items and their members
/// (see [`Tape`]).
fn array(s: &[u8], i: usize, depth: u32, mut tape: Option<&mut Words>) -> Read<usize> {
    if depth > MAX_DEPTH {
        return Err(Invalid(i));
    }
    let mut j = ws(s, i + 1);
    if s.get(j) == Some(&b']') {
        return Ok(j + 1);
    }
    loop {
        let end = match tape.as_deref_mut() {
            None => value(s, j, depth)?,
            Some(tape) => {
                let head = tape.len();
                tape.push([(j - i) as u32, 0, 0]);
                let end = if s.get(j) == Some(&b'{') { object_noting(s, j, depth + 1, Some((tape, i)))? } else { value(s, j, depth)? };
                let members = (tape.len() - head - 3) / 4;
                tape.set(head + 1, (end - i) as u32);
                tape.set(head + 2, members as u32);
                end
            }
        };
        j = ws(s, end);
        match s.get(j) {
            Some(b',') => j = ws(s, j + 1),
            Some(b']') => return Ok(j + 1),
            _ => return Err(Invalid(j)),
        }
    }
}

/// Marks a member name with escapes in a [`Tape`].
const ESCAPED: u32 = 1 << 31;

/// Where the items of a checked JSON array are and, for items that are objects, their
/// members: noted while the array was checked, so that readers of its items (the
/// session's tracker for each item's key, a surface for a message's fields) need not
/// read them again. Offsets are from the start of the array's text.
///
/// A tape is a slice of a chunk shared with the tapes read before it on the same thread,
/// not an allocation of its own: the I/O thread makes one per frame and the consumer's
/// thread frees it, and glibc takes memory freed on another thread back under the lock
/// of the arena it came from (the event flood spent 9% of its samples waiting on it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tape {
    /// Per item: start, end, member count, then per member: name start, name end (with
    /// [`ESCAPED`]), value start, value end; each word 4 bytes, little-endian.
    words: Bytes,
}

/// The size of the chunks tapes are kept in: a few hundred chat events' tapes.
const TAPE_CHUNK: usize = 32 * 1024;

thread_local! {
    /// Per thread: the chunk tapes are noted in.
    static TAPES: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A tape being noted, word by word, at the end of this thread's chunk.
struct Words<'a>(&'a mut BytesMut);

impl Words<'_> {
    fn len(&self) -> usize {
        self.0.len() / 4
    }

    fn push<const N: usize>(&mut self, words: [u32; N]) {
        for w in words {
            self.0.put_u32_le(w);
        }
    }

    fn set(&mut self, i: usize, w: u32) {
        self.0[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
}

/// Word `i` of tape bytes.
fn word(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// One item of a [`Tape`].
#[derive(Clone, Copy, Debug)]
pub struct TapeItem<'t> {
    /// The item's range in the array's text.
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// Four words per member (see [`Tape`]).
    members: &'t [u8],
}

impl<'t> TapeItem<'t> {
    /// The value of the item's member named `name` (the last one, as in a parsed
    /// object), in `text`, the array's text the tape was made from.
    pub fn member<'a>(&self, text: &'a str, name: &str) -> Option<&'a str> {
        self.members.chunks_exact(16).rev().find_map(|m| {
            let name_end = word(m, 1);
            let (start, end, escaped) = (word(m, 0) as usize, (name_end & !ESCAPED) as usize, name_end & ESCAPED != 0);
            // Most names differ in length: no text is looked at for them.
            if !escaped && end - start != name.len() {
                return None;
            }
            let raw = text.get(start..end)?;
            let found = if escaped { Str { raw, escaped: true }.is(name) } else { raw == name };
            if found {
                text.get(word(m, 2) as usize..word(m, 3) as usize)
            } else {
                None
            }
        })
    }

    /// The item's members (an object's; none for other items) as name and value, in
    /// `text`, the array's text the tape was made from.
    pub fn members<'a>(&self, text: &'a str) -> impl Iterator<Item = (Str<'a>, &'a str)> + 't
    where
        'a: 't,
    {
        self.members.chunks_exact(16).filter_map(move |m| {
            let name_end = word(m, 1);
            let raw = text.get(word(m, 0) as usize..(name_end & !ESCAPED) as usize)?;
            Some((Str { raw, escaped: name_end & ESCAPED != 0 }, text.get(word(m, 2) as usize..word(m, 3) as usize)?))
        })
    }

    /// Whether the item is an object (whose members the tape has).
    pub fn is_object(&self, text: &str) -> bool {
        text.as_bytes().get(self.start) == Some(&b'{')
    }
}

impl Tape {
    /// The tape of a JSON array read now (for arrays not noted as their frame was read);
    /// `None` when `text` is not one, or too long for the tape's offsets.
    pub fn of(text: &str) -> Option<Tape> {
        let s = text.as_bytes();
        if s.first() != Some(&b'[') || s.len() >= ESCAPED as usize {
            return None;
        }
        Tape::note(|words| array(s, 0, 1, Some(words))).ok().map(|(_, tape)| tape)
    }

    /// The tape `read` notes in this thread's chunk, and where `read` ended.
    fn note(read: impl FnOnce(&mut Words) -> Read<usize>) -> Read<(usize, Tape)> {
        TAPES.with(|chunk| {
            let chunk = &mut *chunk.borrow_mut();
            if chunk.capacity() < TAPE_CHUNK / 8 {
                // A new chunk unless every tape of the last one is gone: then it is reused.
                // A longer tape grows it as it is noted.
                chunk.reserve(TAPE_CHUNK);
            }
            let read = read(&mut Words(chunk));
            if read.is_err() || chunk.is_empty() {
                chunk.clear();
                return read.map(|end| (end, Tape::default()));
            }
            Ok((read?, Tape { words: chunk.split().freeze() }))
        })
    }

    /// The tape's items, in order.
    pub fn items(&self) -> impl Iterator<Item = TapeItem<'_>> {
        let mut w = &self.words[..];
        std::iter::from_fn(move || {
            if w.len() < 12 {
                return None;
            }
            let rest = &w[12..];
            let n = (word(w, 2) as usize * 16).min(rest.len());
            let item = TapeItem { start: word(w, 0) as usize, end: word(w, 1) as usize, members: &rest[..n] };
            w = &rest[n..];
            Some(item)
        })
    }

    /// How many items the tape has.
    pub fn len(&self) -> usize {
        self.items().count()
    }

    /// Whether the tape has no item.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Checks that `text` is one JSON value (with whitespace around it).
pub fn check(text: &str) -> Read<()> {
    let s = text.as_bytes();
    let start = ws(s, 0);
    let end = value(s, start, 0)?;
    let end = ws(s, end);
    if end == s.len() {
        Ok(())
    } else {
        Err(Invalid(end))
    }
}

/// The members of an object, read one at a time: each name, and its value as a slice
/// of the text. Reading them all checks the object ([`Members::of`]), or only finds
/// where things end in text that was checked before ([`Members::of_checked`]).
pub struct Members<'a> {
    seq: Seq<'a>,
}

/// Where reading an object's members or an array's items stands.
struct Seq<'a> {
    text: &'a str,
    /// Just after the opening bracket, the last element, or the closing bracket.
    i: usize,
    depth: u32,
    first: bool,
    done: bool,
    check: bool,
}

impl<'a> Seq<'a> {
    /// The object or array (by `open`, `{` or `[`) that starts at `i` of `text`.
    fn at(text: &'a str, i: usize, depth: u32, check: bool, open: u8) -> Read<Self> {
        if text.as_bytes().get(i) != Some(&open) || depth > MAX_DEPTH {
            return Err(Invalid(i));
        }
        Ok(Seq { text, i: i + 1, depth, first: true, done: false, check })
    }

    /// Where the next element starts, past the comma before it; `None` at `close`.
    /// After a comma an element must follow: `[1,]` and `{"a":1,}` stop at the element.
    fn next_start(&mut self, close: u8) -> Read<Option<usize>> {
        if self.done {
            return Ok(None);
        }
        let s = self.text.as_bytes();
        let mut i = ws(s, self.i);
        match s.get(i) {
            Some(&b) if b == close => {
                self.done = true;
                self.i = i + 1;
                return Ok(None);
            }
            Some(b',') if !self.first => i = ws(s, i + 1),
            _ if self.first => {}
            _ => return Err(Invalid(i)),
        }
        self.first = false;
        Ok(Some(i))
    }
}

impl<'a> Members<'a> {
    /// The members of the object `text` is (whitespace around it allowed; what follows
    /// the object is checked by [`Members::finish`]). `None` when it is not an object.
    pub fn of(text: &'a str) -> Option<Self> {
        Seq::at(text, ws(text.as_bytes(), 0), 1, true, b'{').ok().map(|seq| Members { seq })
    }

    /// The members of an object whose text was checked before (a slice of a decoded
    /// frame): reading them does not check it again.
    pub fn of_checked(text: &'a str) -> Option<Self> {
        Seq::at(text, ws(text.as_bytes(), 0), 1, false, b'{').ok().map(|seq| Members { seq })
    }

    /// The next member's name and the range of its value; with `note`, the items of the
    /// array member of that name go to the vector, as ranges within the value.
    fn step(&mut self, note: Option<(&str, &mut Tape)>) -> Read<Option<(Str<'a>, usize, usize)>> {
        let Some(i) = self.seq.next_start(b'}')? else { return Ok(None) };
        let seq = &mut self.seq;
        let s = seq.text.as_bytes();
        if s.get(i) != Some(&b'"') {
            return Err(Invalid(i));
        }
        let (name_end, escaped) = if seq.check { string(s, i)? } else { skip_string(s, i) };
        let name = Str { raw: &seq.text[i + 1..name_end - 1], escaped };
        let colon = ws(s, name_end);
        if s.get(colon) != Some(&b':') {
            return Err(Invalid(colon));
        }
        let start = ws(s, colon + 1);
        let end = match note {
            // Longer texts than offsets reach are read without notes.
            Some((wanted, tape)) if seq.check && s.get(start) == Some(&b'[') && name.is(wanted) && s.len() < ESCAPED as usize => {
                let (end, noted) = Tape::note(|words| array(s, start, seq.depth + 1, Some(words)))?;
                *tape = noted;
                end
            }
            _ if seq.check => value(s, start, seq.depth)?,
            _ => skip(s, start),
        };
        seq.i = end;
        Ok(Some((name, start, end)))
    }

    /// The next member: its name and its value's text. `Err` when the object is not
    /// JSON there; reading on after an error is not meaningful.
    pub fn next_member(&mut self) -> Read<Option<(Str<'a>, &'a str)>> {
        let text = self.seq.text;
        Ok(self.step(None)?.map(|(name, start, end)| (name, &text[start..end])))
    }

    /// [`Members::next_member`] of a checked object, which also notes where the items of
    /// the member named `name` are, and their members, when it is an array: in `tape`
    /// (read in the same pass, so a decoder finds a subscription's items at no cost).
    pub fn next_member_noting(&mut self, name: &str, tape: &mut Tape) -> Read<Option<(Str<'a>, &'a str)>> {
        let text = self.seq.text;
        Ok(self.step(Some((name, tape)))?.map(|(name, start, end)| (name, &text[start..end])))
    }

    /// Checks the rest of the object and that only whitespace follows it.
    pub fn finish(mut self) -> Read<()> {
        while self.step(None)?.is_some() {}
        let s = self.seq.text.as_bytes();
        let end = ws(s, self.seq.i);
        if end == s.len() {
            Ok(())
        } else {
            Err(Invalid(end))
        }
    }

    /// The value of the member named `name` in the object `text`, which was checked
    /// before: the search stops at the member.
    pub fn find(text: &'a str, name: &str) -> Option<&'a str> {
        let mut found = None;
        each_member(text, |n, v| {
            if n.is(name) {
                found = Some(v);
            }
            found.is_none()
        });
        found
    }
}

/// Calls `each` with the name and value of every member of the object `text`, which
/// was checked before, until it returns false. A tight loop without the error paths of
/// [`Members`]: reading items for their fields is most of a consumer's work per event.
#[inline]
pub fn each_member<'a>(text: &'a str, each: impl FnMut(Str<'a>, &'a str) -> bool) {
    members_from(text, ws(text.as_bytes(), 0), each);
}

/// [`each_member`] for the object at `i` of `text`; returns where the object ends when
/// every member was read.
fn members_from<'a>(text: &'a str, mut i: usize, mut each: impl FnMut(Str<'a>, &'a str) -> bool) -> Option<usize> {
    let s = text.as_bytes();
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = ws(s, i);
        match s.get(i) {
            Some(b'"') => {}
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'}') => return Some(i + 1),
            _ => return None,
        }
        let (name_end, escaped) = skip_string(s, i);
        let raw = text.get(i + 1..name_end.saturating_sub(1))?;
        let mut j = ws(s, name_end);
        if s.get(j) != Some(&b':') {
            return None;
        }
        j = ws(s, j + 1);
        let end = skip(s, j);
        if !each(Str { raw, escaped }, text.get(j..end)?) {
            return None;
        }
        i = end;
    }
}

/// Calls `each` with every item of the array `text`, which was checked before, and, for
/// an item that is an object, with its members (read as the item is passed: once).
pub fn each_item_with_members<'a>(text: &'a str, mut each: impl FnMut(&'a str, Option<Vec<(Str<'a>, &'a str)>>)) {
    let s = text.as_bytes();
    let mut i = ws(s, 0);
    if s.get(i) != Some(&b'[') {
        return;
    }
    i += 1;
    loop {
        i = ws(s, i);
        match s.get(i) {
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b']') | None => return,
            Some(b'{') => {
                let mut members = Vec::with_capacity(12);
                let Some(end) = members_from(text, i, |n, v| {
                    members.push((n, v));
                    true
                }) else {
                    return;
                };
                let Some(item) = text.get(i..end) else { return };
                each(item, Some(members));
                i = end;
            }
            Some(_) => {
                let end = skip(s, i);
                let Some(item) = text.get(i..end) else { return };
                each(item, None);
                i = end;
            }
        }
    }
}

/// The items of an array, read one at a time as slices of the text; checked as
/// [`Members`] are.
pub struct Items<'a> {
    seq: Seq<'a>,
}

impl<'a> Items<'a> {
    /// The items of the array `text` is; `None` when it is not an array.
    pub fn of(text: &'a str) -> Option<Self> {
        Seq::at(text, ws(text.as_bytes(), 0), 1, true, b'[').ok().map(|seq| Items { seq })
    }

    /// The items of an array whose text was checked before.
    pub fn of_checked(text: &'a str) -> Option<Self> {
        Seq::at(text, ws(text.as_bytes(), 0), 1, false, b'[').ok().map(|seq| Items { seq })
    }

    fn step(&mut self) -> Read<Option<(usize, usize)>> {
        let Some(i) = self.seq.next_start(b']')? else { return Ok(None) };
        let seq = &mut self.seq;
        let s = seq.text.as_bytes();
        let end = if seq.check { value(s, i, seq.depth)? } else { skip(s, i) };
        seq.i = end;
        Ok(Some((i, end)))
    }

    /// The next item's text.
    pub fn next_item(&mut self) -> Read<Option<&'a str>> {
        let text = self.seq.text;
        Ok(self.step()?.map(|(start, end)| &text[start..end]))
    }
}

/// What a scalar JSON value says as text: a string's text, a number as written, `true`
/// or `false`; `None` for `null`, objects and arrays.
pub fn scalar_text(value: &str) -> Option<Cow<'_, str>> {
    match value.as_bytes().first()? {
        b'"' => Some(Str { raw: &value[1..value.len() - 1], escaped: value.contains('\\') }.text()),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(value)),
        b't' => Some(Cow::Borrowed("true")),
        b'f' => Some(Cow::Borrowed("false")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn agrees(text: &str) {
        let ours = check(text).is_ok();
        let serde = serde_json::from_str::<Value>(text).is_ok();
        assert_eq!(ours, serde, "{text:?}: ours {ours}, serde_json {serde}");
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for text in [
            "{}",
            " [ ] ",
            r#"{"a":[1,-2.5e3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"],"b":{}}"#,
            "0",
            "-0",
            "1e400",
            "-1e400",
            "1.5E+2",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            &"9".repeat(400),
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800x""#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}b\"",
            "\"ok\u{7f}é\"",
            "[1,]",
            "[,1]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{1:1}",
            "nul",
            "[1] x",
            "",
            "  ",
            &format!("{}{}", "[".repeat(127), "]".repeat(127)),
            &format!("{}{}", "[".repeat(128), "]".repeat(128)),
            &format!("{}{}", "{\"a\":".repeat(127), "}".repeat(127)).replacen('}', "1}", 1),
            &format!("{}1{}", "{\"a\":".repeat(128), "}".repeat(128)),
        ] {
            agrees(text);
        }
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[ -~\u{e9}\u{1F600}\n\"\\\\]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z\"\\\\]{0,4}", inner), 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_json_and_on_json_with_one_byte_changed(
            v in json(),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"\"\\{}[],:0123456789.eE+-tfnu \x01x".to_vec()),
            how in 0..3u8,
        ) {
            let text = v.to_string();
            agrees(&text);
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
            if let Ok(changed) = String::from_utf8(bytes) {
                agrees(&changed);
            }
        }
    }

    fn all_members(mut m: Members<'_>) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        while let Ok(Some((name, value))) = m.next_member() {
            out.push((name.text().into_owned(), value));
        }
        out
    }

    fn all_items(mut a: Items<'_>) -> Vec<&str> {
        let mut out = Vec::new();
        while let Ok(Some(item)) = a.next_item() {
            out.push(item);
        }
        out
    }

    proptest! {
        #[test]
        fn a_tape_notes_the_items_and_members_a_reader_finds(v in prop::collection::vec(json(), 0..5)) {
            let array = Value::Array(v).to_string();
            let frame = format!("{{\"data\":{array}}}");
            let mut m = Members::of(&frame).unwrap();
            let mut tape = Tape::default();
            while m.next_member_noting("data", &mut tape).unwrap().is_some() {}
            let noted: Vec<_> = tape.items().map(|i| &array[i.start..i.end]).collect();
            prop_assert_eq!(&noted, &all_items(Items::of(&array).unwrap()));
            prop_assert_eq!(Tape::of(&array), Some(tape.clone()));
            for (item, text) in tape.items().zip(noted) {
                let members: Vec<_> = item.members(&array).map(|(n, v)| (n.text().into_owned(), v)).collect();
                prop_assert_eq!(members, Members::of(text).map(all_members).unwrap_or_default());
            }
        }

        #[test]
        fn checked_text_reads_the_same_without_checking(v in json()) {
            let text = serde_json::to_string_pretty(&v).unwrap();
            if let Some(m) = Members::of(&text) {
                let checked = all_members(m);
                prop_assert_eq!(&checked, &all_members(Members::of_checked(&text).unwrap()));
                let mut quick = Vec::new();
                each_member(&text, |n, v| {
                    quick.push((n.text().into_owned(), v));
                    true
                });
                prop_assert_eq!(checked, quick);
            }
            if let Some(a) = Items::of(&text) {
                let checked = all_items(a);
                prop_assert_eq!(&checked, &all_items(Items::of_checked(&text).unwrap()));
                let mut quick = Vec::new();
                each_item_with_members(&text, |item, members| {
                    let expected = Members::of(item).map(all_members);
                    quick.push(item);
                    assert_eq!(members.map(|m| m.into_iter().map(|(n, v)| (n.text().into_owned(), v)).collect::<Vec<_>>()), expected);
                });
                prop_assert_eq!(checked, quick);
            }
        }
    }

    #[test]
    fn members_and_items_are_slices_and_stop_where_asked() {
        let text = r#" {"type":"subscription", "data" : [{"id":1,"t":"a"}, {"id":"x"} ], "u\u0069d":"s-1"} "#;
        let mut m = Members::of(text).unwrap();
        let mut seen = Vec::new();
        while let Some((name, value)) = m.next_member().unwrap() {
            seen.push((name.text().into_owned(), value));
        }
        assert_eq!(
            seen,
            [
                ("type".to_owned(), "\"subscription\""),
                ("data".to_owned(), r#"[{"id":1,"t":"a"}, {"id":"x"} ]"#),
                ("uid".to_owned(), "\"s-1\"")
            ]
        );
        assert!(Members::of(text).unwrap().finish().is_ok());
        assert!(Members::of("{} x").unwrap().finish().is_err());
        assert!(Members::of("[]").is_none());
        assert_eq!(Members::find(r#"{"a":1,"id":7,"z":[}"#, "id"), Some("7"), "stops at the member");
        let mut m = Members::of(text).unwrap();
        let mut tape = Tape::default();
        while let Some((_, value)) = m.next_member_noting("data", &mut tape).unwrap() {
            if value.starts_with('[') {
                let found: Vec<_> = tape.items().map(|i| &value[i.start..i.end]).collect();
                assert_eq!(found, [r#"{"id":1,"t":"a"}"#, r#"{"id":"x"}"#]);
                let members: Vec<Vec<_>> =
                    tape.items().map(|i| i.members(value).map(|(n, v)| (n.text().into_owned(), v)).collect()).collect();
                assert_eq!(members, [vec![("id".to_owned(), "1"), ("t".to_owned(), "\"a\"")], vec![("id".to_owned(), "\"x\"")]]);
                assert_eq!(tape.items().next().unwrap().member(value, "t"), Some("\"a\""));
                assert_eq!(tape.items().next().unwrap().member(value, "x"), None);
            }
        }
        assert_eq!(tape.len(), 2);
        let mut all = Vec::new();
        each_member(text, |n, v| {
            all.push((n.text().into_owned(), v));
            true
        });
        assert_eq!(all, seen);
        assert_eq!(Members::find(r#"{"a":1}"#, "id"), None);
        let mut seen = Vec::new();
        each_item_with_members(r#"[{"id":1,"t":"a"}, 5, {"id":"x"} ]"#, |item, members| seen.push((item, members.map(|m| m.len()))));
        assert_eq!(seen, [(r#"{"id":1,"t":"a"}"#, Some(2)), ("5", None), (r#"{"id":"x"}"#, Some(1))]);
        let mut items = Items::of(r#"[{"id":1,"t":"a"}, {"id":"x"} ]"#).unwrap();
        assert_eq!(items.next_item(), Ok(Some(r#"{"id":1,"t":"a"}"#)));
        assert_eq!(items.next_item(), Ok(Some(r#"{"id":"x"}"#)));
        assert_eq!(items.next_item(), Ok(None));
        assert!(Items::of("{}").is_none());
        assert_eq!(scalar_text(r#""a\nb""#).as_deref(), Some("a\nb"));
        assert_eq!(scalar_text("12").as_deref(), Some("12"));
        assert_eq!(scalar_text("true").as_deref(), Some("true"));
        assert_eq!(scalar_text("null"), None);
        assert_eq!(scalar_text("{}"), None);
    }
}
