; Script-Fu (GIMP 2.10) side of the plug-in tests: builds small images, runs plug-in-nstyle,
; exports layers as PNG into ns-dir and reports facts as "NSFACT key value" messages, which
; run-tests.sh reads from stderr and checks. Each test is its own batch command (-b), which
; loads this file first (batch commands share no Scheme state), so one failing test does not
; stop the others.
;
; Engine settings (device, precision) come from NSTYLE_DEVICE / NSTYLE_OPTIONS in the
; environment; sizes and iterations here are tiny.

(define ns-dir ".")            ; set by each batch command
(define ns-style "style.png")  ; set with ns-dir
(define ns-iters 8)

(define (ns-str v)
  (cond ((number? v) (number->string v))
        ((string? v) v)
        ((eq? v #t) "1")
        ((eq? v #f) "0")
        (else "?")))

(define (ns-fact key . vals)
  (gimp-message
   (string-append "NSFACT " key
                  (apply string-append (map (lambda (v) (string-append " " (ns-str v))) vals)))))

(define (ns-path name) (string-append ns-dir "/" name))

(define (ns-png img drawable name)
  (file-png-save2 RUN-NONINTERACTIVE img drawable (ns-path name) name 0 9 0 0 0 0 0 0 0))

(define (ns-layer-count img) (car (gimp-image-get-layers img)))

(define (ns-layers img) (vector->list (cadr (gimp-image-get-layers img))))

; The style: an orange and blue checkerboard of 4-pixel squares.
(define (ns-make-style)
  (let* ((img (car (gimp-image-new 40 40 RGB)))
         (lay (car (gimp-layer-new img 40 40 RGB-IMAGE "style" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img lay 0 0)
    (gimp-context-set-foreground '(240 170 30))
    (gimp-context-set-background '(20 60 200))
    (plug-in-checkerboard RUN-NONINTERACTIVE img lay 0 4)
    (ns-png img lay "style.png")
    (gimp-image-delete img)))

; A content image: plasma (seeded) on a layer of w x h at (x, y) in an image of iw x ih.
(define (ns-make-content type precision iw ih w h x y)
  (let* ((img (car (gimp-image-new-with-precision iw ih
                                                   (if (= type GRAY) GRAY RGB) precision)))
         (ltype (if (= type GRAY) GRAY-IMAGE RGB-IMAGE))
         (lay (car (gimp-layer-new img w h ltype "source" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img lay 0 0)
    (gimp-layer-set-offsets lay x y)
    (plug-in-plasma RUN-NONINTERACTIVE img lay 7 3.0)
    (list img lay)))

; Gives the layer a horizontal alpha ramp (applied layer mask from a black-to-white gradient).
(define (ns-add-alpha-ramp img lay)
  (gimp-layer-add-alpha lay)
  (let ((mask (car (gimp-layer-create-mask lay ADD-MASK-WHITE))))
    (gimp-layer-add-mask lay mask)
    (gimp-context-set-foreground '(0 0 0))
    (gimp-context-set-background '(255 255 255))
    (gimp-context-set-gradient-fg-bg-rgb)
    (gimp-drawable-edit-gradient-fill mask GRADIENT-LINEAR 0 FALSE 1 0 TRUE
                                      0 0 (car (gimp-drawable-width lay)) 0)
    (gimp-layer-remove-mask lay MASK-APPLY)))

(define (ns-run img lay iters)
  (car (plug-in-nstyle RUN-NONINTERACTIVE img lay ns-style 0 iters 5.0 100.0 0.01 0)))

; --- tests --------------------------------------------------------------------------------

(define (ns-test-registered)
  (let ((info (gimp-procedural-db-proc-info "plug-in-nstyle")))
    (ns-fact "reg-exists" (car (gimp-procedural-db-proc-exists "plug-in-nstyle")))
    (ns-fact "reg-nargs" (list-ref info 6))
    (ns-fact "reg-nvals" (list-ref info 7))
    (let loop ((i 0))
      (if (< i (list-ref info 6))
          (let ((arg (gimp-procedural-db-proc-arg "plug-in-nstyle" i)))
            (ns-fact "reg-arg" i (car arg) (cadr arg))
            (loop (+ i 1)))))
    (let ((val (gimp-procedural-db-proc-val "plug-in-nstyle" 0)))
      (ns-fact "reg-val" 0 (car val) (cadr val)))))

; RGBA layer smaller than the image, at an offset, with an alpha ramp.
(define (ns-test-basic)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 48 40 40 32 5 3))
         (img (car c)) (lay (cadr c)))
    (ns-add-alpha-ramp img lay)
    (ns-png img lay "basic-src-before.png")
    (ns-fact "basic-layers-before" (ns-layer-count img))
    (let* ((new (ns-run img lay ns-iters))
           (offs (gimp-drawable-offsets new))
           (layers (ns-layers img)))
      (ns-fact "basic-layers-after" (ns-layer-count img))
      (ns-fact "basic-returned-is-top" (= new (car layers)))
      (ns-fact "basic-source-second" (= lay (cadr layers)))
      (ns-fact "basic-name" (car (gimp-item-get-name new)))
      (ns-fact "basic-size" (car (gimp-drawable-width new)) (car (gimp-drawable-height new)))
      (ns-fact "basic-offsets" (car offs) (cadr offs))
      (ns-fact "basic-has-alpha" (car (gimp-drawable-has-alpha new)))
      (ns-fact "basic-mask" (car (gimp-layer-get-mask new)))
      (ns-png img lay "basic-src-after.png")
      (ns-png img new "basic-new.png"))))

; Opaque RGB layer, a few more iterations: for the style distance.
(define (ns-test-style)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 48 48 48 48 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "style-src.png")
    (ns-png img (ns-run img lay 10) "style-new.png")
    (ns-fact "style-layers-after" (ns-layer-count img))))

; A rectangle selection over the left half: only it changes (through the new layer's mask).
(define (ns-test-selection)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 48 40 48 40 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "sel-src.png")
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 24 40)
    (let ((new (ns-run img lay ns-iters)))
      (ns-fact "sel-layers-after" (ns-layer-count img))
      (ns-fact "sel-has-mask" (if (> (car (gimp-layer-get-mask new)) 0) 1 0))
      (ns-fact "sel-size" (car (gimp-drawable-width new)) (car (gimp-drawable-height new)))
      (ns-png img lay "sel-src-after.png")
      (gimp-selection-none img)
      (let* ((dup (car (gimp-image-duplicate img)))
             (flat (car (gimp-image-flatten dup))))
        (ns-png dup flat "sel-composite.png")
        (gimp-image-delete dup)))))

; A missing style file: the call fails (caught here; GIMP prints the plug-in's message) and
; the image is as it was.
(define (ns-test-missing)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-image-clean-all img)
    (ns-png img lay "missing-src-before.png")
    (ns-fact "missing-result"
             (if (catch #f (plug-in-nstyle RUN-NONINTERACTIVE img lay
                                           (ns-path "no-such-style.png") 0 2 5.0 100.0 0.01 0))
                 "success" "failed"))
    (ns-fact "missing-layers-after" (ns-layer-count img))
    (ns-fact "missing-dirty" (car (gimp-image-is-dirty img)))
    (ns-png img lay "missing-src-after.png")))

; Indexed images are refused with a message.
(define (ns-test-indexed)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE "")
    (ns-fact "indexed-result"
             (if (catch #f (plug-in-nstyle RUN-NONINTERACTIVE img lay ns-style 0 2 5.0 100.0 0.01 0))
                 "success" "failed"))
    (ns-fact "indexed-layers-after" (ns-layer-count img))))

(define (ns-test-depth tag precision)
  (let* ((c (ns-make-content RGB precision 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay (string-append tag "-src.png"))
    (let ((new (ns-run img lay 4)))
      (ns-fact (string-append tag "-layers-after") (ns-layer-count img))
      (ns-fact (string-append tag "-precision") (car (gimp-image-get-precision img)))
      (ns-png img new (string-append tag "-new.png"))
      (ns-png img lay (string-append tag "-src-after.png")))))

(define (ns-test-gray)
  (let* ((c (ns-make-content GRAY PRECISION-U8-GAMMA 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-png img lay "gray-src.png")
    (let ((new (ns-run img lay 4)))
      (ns-fact "gray-layers-after" (ns-layer-count img))
      (ns-fact "gray-is-gray" (car (gimp-drawable-is-gray new)))
      (ns-png img new "gray-new.png"))))

; RUN-WITH-LAST-VALS: the values of the last run, no dialog (there is no display here).
(define (ns-test-last-vals)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (plug-in-nstyle RUN-NONINTERACTIVE img lay ns-style 0 2 5.0 100.0 0.01 0)
    (let ((new (car (plug-in-nstyle RUN-WITH-LAST-VALS img lay "" 0 0 0 0 0 0))))
      (ns-fact "lastvals-layers-after" (ns-layer-count img))
      (ns-fact "lastvals-name" (car (gimp-item-get-name new))))))

; Run by a GIMP started with NSTYLE_WEIGHTS naming a missing file: an execution error.
(define (ns-test-no-weights)
  (let* ((c (ns-make-content RGB PRECISION-U8-GAMMA 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-fact "noweights-result" (if (catch #f (ns-run img lay 2)) "success" "failed"))
    (ns-fact "noweights-layers-after" (ns-layer-count img))))
